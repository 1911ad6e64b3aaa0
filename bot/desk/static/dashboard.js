/* The supervisor dashboard: the figures of GET /api/dashboard with bars and red/yellow/green lights,
 * refreshed every 5 seconds while the page is visible (the desk computes them with SQL aggregates). */
"use strict";

(() => {
  const { api, h, clear, duration, light } = Desk;
  const root = document.getElementById("root");
  const meEl = document.getElementById("me");
  const updatedEl = document.getElementById("updated");
  const logoutBtn = document.getElementById("logout");
  const REFRESH_MS = 5000;
  let timer = null;

  /* Thresholds of the lights: [green when …, yellow when …], otherwise red. */
  const RULES = {
    sla_met: (v) => (v === null ? null : v >= 90 ? "green" : v >= 75 ? "yellow" : "red"),
    oldest_wait: (v) => (v === null ? "green" : v < 120 ? "green" : v < 300 ? "yellow" : "red"),
    first_response_p90: (v) => (v === null ? null : v <= 120 ? "green" : v <= 180 ? "yellow" : "red"),
    containment: (v) => (v === null ? null : v >= 0.7 ? "green" : v >= 0.5 ? "yellow" : "red"),
    csat: (v) => (v === null ? null : v >= 4 ? "green" : v >= 3 ? "yellow" : "red"),
    breaches: (lights) => (lights.red ? "red" : lights.yellow ? "yellow" : "green"),
  };

  function boot() {
    Desk.onUnauthorized(() => signedOut());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && timer !== null) refresh();
    });
    logoutBtn.addEventListener("click", async () => {
      await Desk.logout();
      signedOut();
    });
    if (Desk.token()) start();
    else Desk.loginForm(root, start);
  }

  function signedOut() {
    clearInterval(timer);
    timer = null;
    meEl.textContent = "";
    logoutBtn.hidden = true;
    Desk.loginForm(root, start);
  }

  async function start() {
    try {
      const me = await api("GET", "/api/me");
      if (me.must_change_password) {
        Desk.passwordForm(root, start);
        return;
      }
      meEl.textContent = me.name + " · " + me.role;
      logoutBtn.hidden = false;
    } catch (err) {
      return;
    }
    await refresh();
    clearInterval(timer);
    timer = setInterval(refresh, REFRESH_MS);
  }

  async function refresh() {
    if (document.hidden) return; // a dashboard in a background tab costs the desk nothing
    let data;
    try {
      data = await api("GET", "/api/dashboard");
    } catch (err) {
      if (err.status !== 401) updatedEl.textContent = "not updated: " + err.message;
      return;
    }
    render(data);
    updatedEl.textContent = "updated " + Desk.time(data.generated_at);
  }

  function tile(key, title, value, color, sub) {
    return h("div", { class: "tile", "data-testid": "tile-" + key, dataset: { light: color || "grey" } },
      h("div", { class: "tile-head" }, light(color || "grey", title), h("span", {}, title)),
      h("div", { class: "tile-value", "data-testid": "value-" + key }, value),
      sub ? h("div", { class: "tile-sub muted" }, sub) : null);
  }

  function bars(key, title, counts, order) {
    const entries = order ? order.map((k) => [k, counts[k] || 0]) : Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...entries.map((e) => e[1]));
    return h("div", { class: "chart", "data-testid": "chart-" + key },
      h("h3", {}, title),
      entries.length
        ? h("ul", { class: "bars" }, entries.map(([label, n]) =>
          h("li", { dataset: { label } },
            h("span", { class: "bar-name" }, label),
            h("span", { class: "bar" }, h("span", { class: "bar-fill bar-" + label, style: { width: (100 * n) / max + "%" } })),
            h("span", { class: "bar-value" }, String(n)))))
        : h("p", { class: "muted" }, "Nothing yet."));
  }

  function pct(v, digits) {
    return v === null || v === undefined ? "–" : v.toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function render(d) {
    const queue = d.queue || {};
    const first = d.first_response_seconds || {};
    const containment = d.containment || {};
    const csat = d.csat || {};
    const lights = d.sla_lights || { green: 0, yellow: 0, red: 0 };
    const containmentPct = containment.rate === null || containment.rate === undefined ? null : containment.rate * 100;
    clear(root).append(
      h("section", { class: "tiles" },
        tile("queue", "Queue", String(queue.length || 0), RULES.breaches(lights),
          lights.green + " green · " + lights.yellow + " yellow · " + lights.red + " red"),
        tile("oldest", "Oldest wait", d.oldest_wait_seconds === null ? "–" : duration(d.oldest_wait_seconds), RULES.oldest_wait(d.oldest_wait_seconds)),
        tile("sla", "SLA met", pct(d.sla_met_percent), RULES.sla_met(d.sla_met_percent)),
        tile("first-response", "First response p50 / p90",
          (first.p50 === null || first.p50 === undefined ? "–" : duration(first.p50)) + " / " + (first.p90 === null || first.p90 === undefined ? "–" : duration(first.p90)),
          RULES.first_response_p90(first.p90 === undefined ? null : first.p90), (first.count || 0) + " answered"),
        tile("containment", "Self-service (containment)", pct(containmentPct), RULES.containment(containment.rate === undefined ? null : containment.rate),
          (containment.conversations || 0) + " conversations, " + (containment.with_ticket || 0) + " handed over"),
        tile("csat", "CSAT average", csat.average === null || csat.average === undefined ? "–" : csat.average.toFixed(2) + " / 5", RULES.csat(csat.average === undefined ? null : csat.average),
          (csat.count || 0) + " ratings"),
      ),
      h("section", { class: "charts" },
        bars("grade", "Queue by grade", queue.by_grade || {}, ["A", "B", "C"]),
        bars("skill", "Queue by skill", queue.by_skill || {}),
        bars("reason", "Handoffs by reason", d.handoffs_by_reason || {}),
        bars("sla-lights", "Open tickets by SLA light", lights, ["green", "yellow", "red"]),
        bars("csat", "CSAT ratings", csat.distribution || {}, ["5", "4", "3", "2", "1"]),
        bars("status", "Tickets by status", d.tickets || {}),
      ),
    );
  }

  boot();
})();
