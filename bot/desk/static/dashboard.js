/* The supervisor dashboard: the live figures of GET /api/dashboard (refreshed every 5 seconds while the page is
 * visible), and the figures of a date range from GET /api/reports: lights whose thresholds and colours come from
 * the desk (settings.yml: reports.lights, computed in business time; none are written here), and charts
 * (volume by hour, first response and CSAT over the days, handoff reasons). */
"use strict";

(() => {
  const { api, h, clear, duration, light } = Desk;
  const root = document.getElementById("root");
  const meEl = document.getElementById("me");
  const updatedEl = document.getElementById("updated");
  const logoutBtn = document.getElementById("logout");
  const REFRESH_MS = 5000;
  let timer = null;

  /* The only colour decided here: the open tickets' worst SLA light, as the desk computed each. */
  const breaches = (lights) => (lights.red ? "red" : lights.yellow ? "yellow" : "green");
  let live = null;
  const period = { from: null, to: null, data: null, error: null };
  // re-drawn only when a period is loaded: the 5-second refresh of the live part keeps the dates being typed
  const periodEl = h("div", { id: "period-root" });

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
    await loadPeriod();
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
    live = data;
    render();
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

  async function loadPeriod() {
    try {
      // First view: no dates, so the desk picks its last week in its own time zone (the browser's clock and
      // zone may be another day); the inputs then show the period the desk chose.
      const dates = period.to ? "from=" + encodeURIComponent(period.from) + "&to=" + encodeURIComponent(period.to) + "&" : "";
      period.data = await api("GET", "/api/reports?" + dates + "group_by=day");
      period.from = period.data.period.from;
      period.to = period.data.period.to;
      period.error = null;
    } catch (err) {
      period.data = null;
      period.error = err.message;
    }
    clear(periodEl).append(periodSection());
    if (!periodEl.isConnected) render();
  }

  /* How each light's figure reads (its colour and thresholds come from the desk): a percent, or the NPS, a score
   * from -100 to 100 that has no value until someone answers the question (a grey "no answers", not a red 0). */
  const LIGHTS = {
    first_response_within_target_percent: { title: "First response within target", unit: "%" },
    sla_met_percent: { title: "SLA met", unit: "%" },
    csat_share_4_5_percent: { title: "CSAT (4–5)", unit: "%" },
    abandonment_percent: { title: "Abandonment", unit: "%" },
    assistant_resolution_percent: { title: "Resolved by the assistant", unit: "%" },
    one_contact_resolution_percent: { title: "One-contact resolution", unit: "%" },
    nps: { title: "NPS (recommend, 0–10)", unit: "", none: "no answers", answers: (d) => (d.nps || {}).count || 0 },
  };

  function series(key, title, points, format) {
    const values = points.map((p) => p[1]).filter((v) => v !== null && v !== undefined);
    const max = Math.max(1, ...values);
    return h("div", { class: "chart", "data-testid": "chart-" + key },
      h("h3", {}, title),
      h("ul", { class: "bars" }, points.map(([label, v]) =>
        h("li", { dataset: { label } },
          h("span", { class: "bar-name" }, label),
          h("span", { class: "bar" }, h("span", { class: "bar-fill", style: { width: v === null || v === undefined ? "0%" : (100 * v) / max + "%" } })),
          h("span", { class: "bar-value" }, v === null || v === undefined ? "–" : format(v))))));
  }

  function periodSection() {
    const fromInput = h("input", { type: "date", id: "period-from", "data-testid": "period-from", value: period.from || "" });
    const toInput = h("input", { type: "date", id: "period-to", "data-testid": "period-to", value: period.to || "" });
    const apply = h("button", { type: "button", "data-testid": "period-apply" }, "Show");
    apply.addEventListener("click", () => {
      period.from = fromInput.value;
      period.to = toInput.value;
      loadPeriod();
    });
    const form = h("div", { class: "period-form" }, h("h2", {}, "Period"), fromInput, " – ", toInput, apply);
    if (period.error) return h("section", { class: "period", "data-testid": "period" }, form,
      h("p", { class: "error", "data-testid": "period-error" }, period.error));
    const d = period.data;
    if (!d) return h("section", { class: "period", "data-testid": "period" }, form);
    const lights = Object.entries(d.lights || {}).map(([key, l]) => {
      const look = LIGHTS[key] || { title: key, unit: "%" };
      const cmp = l.higher_is_better ? "≥ " : "≤ ";
      const answers = look.answers ? " · " + look.answers(d) + " answers" : "";
      const value = l.value === null || l.value === undefined ? (look.none || "–") : l.value.toFixed(1) + look.unit;
      return tile("light-" + key, look.title, value, l.color,
        "green " + cmp + l.green + look.unit + " · yellow " + cmp + l.yellow + look.unit + answers);
    });
    const days = Object.entries(d.groups || {});
    const hours = Object.entries((d.volume || {}).tickets_by_hour || {});
    return h("section", { class: "period", "data-testid": "period" }, form,
      h("p", { class: "muted", "data-testid": "period-summary" },
        d.tickets.created + " tickets · first response p50 " + (d.first_response.p50_seconds === null ? "–" : duration(d.first_response.p50_seconds)) +
        " (business time) · " + d.period.from + " – " + d.period.to + " " + d.period.timezone),
      h("section", { class: "tiles" }, lights),
      h("section", { class: "charts" },
        series("volume-hour", "Tickets by hour", hours, String),
        series("first-response-days", "First response p50 by day (business time)", days.map(([day, g]) => [day, g.first_response_p50_seconds]), duration),
        series("csat-days", "CSAT (4–5) by day", days.map(([day, g]) => [day, g.csat_share_4_5 === null ? null : 100 * g.csat_share_4_5]), (v) => v.toFixed(0) + "%"),
        bars("period-reason", "Handoffs by reason", d.handoffs_by_reason || {}),
      ));
  }

  function render() {
    const d = live || {};
    const queue = d.queue || {};
    const containment = d.containment || {};
    const csat = d.csat || {};
    const lights = d.sla_lights || { green: 0, yellow: 0, red: 0 };
    const containmentPct = containment.rate === null || containment.rate === undefined ? null : containment.rate * 100;
    clear(root).append(
      h("section", { class: "tiles" },
        tile("queue", "Queue", String(queue.length || 0), breaches(lights),
          lights.green + " green · " + lights.yellow + " yellow · " + lights.red + " red"),
        tile("oldest", "Oldest wait", d.oldest_wait_seconds === null ? "–" : duration(d.oldest_wait_seconds), null),
        tile("sla", "SLA met (all time)", pct(d.sla_met_percent), null),
        // First response is shown in the period below, in business time against each channel's target: an
        // all-time wall-clock figure here would count every night and holiday as waiting.
        tile("containment", "Self-service (containment)", pct(containmentPct), null,
          (containment.conversations || 0) + " conversations, " + (containment.with_ticket || 0) + " handed over"),
        tile("csat", "CSAT average", csat.average === null || csat.average === undefined ? "–" : csat.average.toFixed(2) + " / 5", null,
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
      periodEl,
    );
  }

  boot();
})();
