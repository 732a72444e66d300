// One live stream of Kilowatt's domain events (GET /api/v1/events, Server-Sent Events) per page.
//
// Read with fetch rather than EventSource, because EventSource cannot send the Authorization
// header. Reconnects with back-off and resumes with Last-Event-ID, so nothing is missed inside the
// server's retention window; a "resync" event (too old, node restarted, or this client fell
// behind) tells subscribers to re-read what they show.

export function createLive(api, { query = {} } = {}) {
  const handlers = new Set(); // {match(type) -> bool, callback(event)}
  const resyncHandlers = new Set();
  const stateHandlers = new Set();
  let lastEventId = null;
  let controller = null;
  let stopped = true;
  let state = "idle";
  let delay = 1000;

  function setState(next) {
    if (next === state) return;
    state = next;
    for (const handler of stateHandlers) handler(state);
  }

  function dispatch(type, id, data) {
    if (id) lastEventId = id;
    if (type === "resync") {
      for (const handler of resyncHandlers) handler();
      return;
    }
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    for (const { match, callback } of handlers) {
      if (match(event.type)) {
        try {
          callback(event);
        } catch (error) {
          console.error("live handler failed", error);
        }
      }
    }
  }

  async function readOnce() {
    controller = new AbortController();
    const url = new URL("/api/v1/events", location.origin);
    for (const [name, value] of Object.entries(query)) {
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
    }
    const headers = { Accept: "text/event-stream" };
    const token = api.accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
    if (response.status === 401) {
      if (!(await api.refresh())) throw new Error("signed out");
      return;
    }
    if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
    setState("live");
    delay = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        let id = null;
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") type = text;
          else if (field === "id") id = text;
          else if (field === "data") data.push(text);
        }
        if (data.length || type === "resync") dispatch(type, id, data.join("\n"));
      }
    }
  }

  async function loop() {
    while (!stopped) {
      try {
        await readOnce();
      } catch (error) {
        if (stopped) return;
        if (String(error?.message) === "signed out") {
          stopped = true;
          setState("offline");
          return;
        }
      }
      if (stopped) return;
      setState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      setState("connecting");
      loop();
    },
    stop() {
      stopped = true;
      controller?.abort();
      setState("idle");
    },
    // pattern: "session.*", "connector.status", or a function of the type
    on(pattern, callback) {
      const match =
        typeof pattern === "function"
          ? pattern
          : pattern.endsWith(".*")
            ? (type) => type.startsWith(pattern.slice(0, -1))
            : pattern === "*"
              ? () => true
              : (type) => type === pattern;
      const entry = { match, callback };
      handlers.add(entry);
      return () => handlers.delete(entry);
    },
    onResync(callback) {
      resyncHandlers.add(callback);
      return () => resyncHandlers.delete(callback);
    },
    onState(callback) {
      stateHandlers.add(callback);
      callback(state);
      return () => stateHandlers.delete(callback);
    },
    get state() {
      return state;
    },
  };
}
