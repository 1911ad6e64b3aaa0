/* Frontline desk pages: shared helpers (API calls with the agent's token, sign-in, DOM building, formatting).
 * Plain browser JavaScript, no build step. Every text from the API is put in the page with textContent, never
 * as HTML. */
"use strict";

const Desk = (() => {
  const TOKEN_KEY = "frontline.desk.token";
  const listeners = { unauthorized: [] };
  let clockOffset = 0; // server time - browser time, in ms (the server clock may be pinned with FRONTLINE_NOW)

  class ApiError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter || null; // the Retry-After header: repeating the same request later will do
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function setToken(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  async function api(method, path, body, extraHeaders) {
    return (await request(method, path, body, extraHeaders)).data;
  }

  /* A state-changing call with an Idempotency-Key: one random key per user action, the same on each of the
   * console's own repeats of that action, so a repeat after a lost answer (the desk unreachable: status 0) or
   * while the first attempt still runs (409 with Retry-After) gets the first answer and nothing happens twice. */
  const CHANGE_ATTEMPTS = 4;
  async function change(path, body, key) {
    const headers = { "Idempotency-Key": key || newIdempotencyKey() };
    for (let attempt = 1; ; attempt++) {
      try {
        return await api("POST", path, body, headers);
      } catch (err) {
        const repeatable = err.status === 0 || (err.status === 409 && err.retryAfter !== null);
        if (!repeatable || attempt >= CHANGE_ATTEMPTS) throw err;
        const seconds = err.retryAfter !== null ? Number(err.retryAfter) || 1 : 0.5 * 2 ** (attempt - 1);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      }
    }
  }

  /* A random (version 4) UUID; crypto.getRandomValues works on plain http too, unlike crypto.randomUUID. */
  function newIdempotencyKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  /* A GET with the answer's headers: {data, response}. */
  async function apiWithHeaders(path) {
    return request("GET", path);
  }

  /* A GET of one page of a paged list: {data, next} (next: the X-Next-Cursor of the following page, or null). */
  async function apiPage(path) {
    const { data, response } = await request("GET", path);
    return { data, next: response.headers.get("X-Next-Cursor") };
  }

  async function request(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: "application/json" }, extraHeaders || {});
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, "the desk cannot be reached (" + err.message + ")");
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        data = { error: text.slice(0, 200) };
      }
    }
    if (!response.ok) {
      const message = (data && data.error) || response.statusText || "request failed";
      if (response.status === 401 && path !== "/api/login") {
        setToken(null);
        listeners.unauthorized.forEach((fn) => fn(message));
      }
      throw new ApiError(response.status, message, response.headers.get("Retry-After"));
    }
    return { data, response };
  }

  function onUnauthorized(fn) {
    listeners.unauthorized.push(fn);
  }

  async function login(name, password) {
    const data = await api("POST", "/api/login", { name, password });
    setToken(data.token);
    return data;
  }

  async function logout() {
    try {
      await api("POST", "/api/logout");
    } catch (err) {
      /* the token is dropped either way */
    }
    setToken(null);
  }

  /* h("div", {class: "x", dataset: {id: 1}, onclick: fn}, "text", child, [more]) */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "style") Object.assign(el.style, value); // CSSOM: allowed by the page's CSP
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function setServerNow(iso) {
    const t = Date.parse(iso);
    if (!Number.isNaN(t)) clockOffset = t - Date.now();
  }

  function serverNow() {
    return Date.now() + clockOffset;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86400);
    const hh = Math.floor((s % 86400) / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = s % 60;
    const pad = (n) => String(n).padStart(2, "0");
    if (d) return d + "d " + hh + "h";
    if (hh) return hh + ":" + pad(mm) + ":" + pad(ss);
    return mm + ":" + pad(ss);
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString([], { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function light(color, label) {
    const c = ["green", "yellow", "red"].includes(color) ? color : "grey";
    return h("span", { class: "light light-" + c, title: label || c, "data-light": c, role: "img", "aria-label": (label || "SLA") + ": " + c });
  }

  /* Sign-in form inside `container`; calls onDone() once signed in. */
  function loginForm(container, onDone) {
    const error = h("p", { class: "error", role: "alert", "data-testid": "login-error", hidden: true });
    const name = h("input", { id: "login-name", name: "name", autocomplete: "username", required: true });
    const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const form = h(
      "form",
      { class: "login", "data-testid": "login-form" },
      h("h1", {}, "Frontline desk"),
      h("label", { for: "login-name" }, "Agent name"),
      name,
      h("label", { for: "login-password" }, "Password"),
      password,
      h("button", { type: "submit", "data-testid": "login-submit" }, "Sign in"),
      error,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        await login(name.value.trim(), password.value);
        password.value = "";
        onDone();
      } catch (err) {
        error.textContent = err.status === 401 ? "Wrong name or password." : err.message;
        error.hidden = false;
      }
    });
    clear(container).appendChild(form);
    name.focus();
  }

  /* The one-time password must be changed before anything else works: old and new password inside `container`;
   * calls onDone() once changed (POST /api/me/password keeps this session and ends the others). */
  function passwordForm(container, onDone) {
    const error = h("p", { class: "error", role: "alert", "data-testid": "password-error", hidden: true });
    const old = h("input", { id: "old-password", type: "password", autocomplete: "current-password", required: true });
    const fresh = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
    const form = h(
      "form",
      { class: "login", "data-testid": "password-form" },
      h("h1", {}, "Choose your password"),
      h("p", {}, "Your password was given to you once. Choose your own before you start."),
      h("label", { for: "old-password" }, "One-time password"),
      old,
      h("label", { for: "new-password" }, "New password (8 characters or more)"),
      fresh,
      h("button", { type: "submit", "data-testid": "password-submit" }, "Change password"),
      error,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        await api("POST", "/api/me/password", { old_password: old.value, password: fresh.value });
        old.value = fresh.value = "";
        onDone();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
    clear(container).appendChild(form);
    old.focus();
  }

  return { api, apiWithHeaders, change, passwordForm, newIdempotencyKey, apiPage, ApiError, token, setToken, login, logout, onUnauthorized, h, svg, append, clear, duration, time, light, loginForm, setServerNow, serverNow };
})();
