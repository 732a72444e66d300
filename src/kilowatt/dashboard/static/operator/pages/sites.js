import { h } from "/static/common/ui.js";

export default async function render(ctx) {
  ctx.title("Sites");
  ctx.root.append(h("h1", {}, "Sites"));
}
