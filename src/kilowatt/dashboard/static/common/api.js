// The Kilowatt REST API from a browser: bearer tokens kept per app ("operator" or "driver"),
// refreshed once on a 401, and RFC 9457 problem bodies turned into ApiError.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function createApi(realm) {
  const key = `kilowatt.auth.${realm}`;
  let tokens = load();
  const signedOutHandlers = new Set();

  function load() {
    try {
      return JSON.parse(localStorage.getItem(key)) || null;
    } catch {
      return null;
    }
  }

  function save(pair) {
    tokens = pair ? { access: pair.access_token, refresh: pair.refresh_token } : null;
    if (tokens) localStorage.setItem(key, JSON.stringify(tokens));
    else localStorage.removeItem(key);
  }

  let refreshing = null;
  async function refresh() {
    if (!tokens?.refresh) return false;
    refreshing ??= (async () => {
      try {
        const response = await fetch("/api/v1/auth/refresh", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: tokens.refresh }),
        });
        if (!response.ok) return false;
        save(await response.json());
        return true;
      } finally {
        setTimeout(() => (refreshing = null), 0);
      }
    })();
    return refreshing;
  }

  // reason: "expired" (the refresh token no longer works) or "logout"
  function signedOut(reason) {
    save(null);
    for (const handler of signedOutHandlers) handler(reason);
  }

  async function request(method, path, { body, query, raw, headers = {} } = {}) {
    const url = new URL(path.startsWith("/") ? path : `/api/v1/${path}`, location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value === undefined || value === null || value === "") continue;
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
    }
    const send = () => {
      const all = { Accept: "application/json", ...headers };
      if (tokens?.access) all.Authorization = `Bearer ${tokens.access}`;
      const init = { method, headers: all };
      if (body !== undefined) {
        all["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(url, init);
    };
    let response = await send();
    if (response.status === 401 && tokens?.access) {
      if (await refresh()) response = await send();
      else signedOut("expired");
    }
    if (raw) return response;
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = { title: response.statusText };
      }
      throw new ApiError(response.status, problem);
    }
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  }

  return {
    realm,
    get: (path, query) => request("GET", path, { query }),
    post: (path, body, query) => request("POST", path, { body, query }),
    put: (path, body) => request("PUT", path, { body }),
    patch: (path, body) => request("PATCH", path, { body }),
    del: (path) => request("DELETE", path),
    request,
    signedIn: () => Boolean(tokens?.access),
    accessToken: () => tokens?.access || null,
    refresh,
    onSignedOut(handler) {
      signedOutHandlers.add(handler);
      return () => signedOutHandlers.delete(handler);
    },
    async login(email, password) {
      const pair = await request("POST", "auth/login", { body: { email, password } });
      save(pair);
      return pair;
    },
    async register(fields) {
      const registered = await request("POST", "auth/register", { body: fields });
      save(registered);
      return registered;
    },
    // quiet: forget the login without telling the onSignedOut handlers
    async logout({ quiet = false } = {}) {
      const refreshToken = tokens?.refresh;
      try {
        if (refreshToken) await request("POST", "auth/logout", { body: { refresh_token: refreshToken } });
      } catch {
        // signing out locally is what matters
      }
      if (quiet) save(null);
      else signedOut("logout");
    },
  };
}
