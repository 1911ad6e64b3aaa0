/* The dashboard's staffing view: agents needed per hour for the coming days (GET /api/staffing: the forecast of
 * the desk's own history, staffed by Erlang C), beside the agents online now, with the forecast's backtest
 * error. Renders into <section id="staffing"> once the dashboard has signed in; refreshed every 5 minutes. */
"use strict";

(() => {
  const { api, h, clear } = Desk;
  const section = document.getElementById("staffing");
  const REFRESH_MS = 5 * 60 * 1000;
  const WAIT_FOR_SIGN_IN_MS = 1000;
  let days = 7;
  let loaded = false;

  function boot() {
    setInterval(() => {
      if (!Desk.token()) {
        section.hidden = true;
        loaded = false;
      } else if (!loaded) {
        loaded = true;
        refresh();
      }
    }, WAIT_FOR_SIGN_IN_MS);
    setInterval(() => { if (loaded && !document.hidden) refresh(); }, REFRESH_MS);
  }

  async function refresh() {
    let data;
    try {
      data = await api("GET", "/api/staffing?days=" + days);
    } catch (err) {
      if (err.status === 401) return;
      clear(section).append(h("p", { class: "error", "data-testid": "staffing-error" }, "Staffing: " + err.message));
      section.hidden = false;
      return;
    }
    render(data);
  }

  function percent(v) {
    return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%";
  }

  function render(d) {
    const s = d.settings || {};
    const hand = (d.backtest || {}).handoffs || {};
    const byDay = {};
    for (const row of d.hours || []) {
      const day = row.start.slice(0, 10);
      (byDay[day] = byDay[day] || []).push(row);
    }
    const online = d.agents_online || 0;
    const max = Math.max(1, ...(d.hours || []).map((r) => r.agents_with_shrinkage));
    const chooser = h("select", { "data-testid": "staffing-days", "aria-label": "Days ahead",
      onchange: (e) => { days = Number(e.target.value); refresh(); } },
      [7, 14].map((n) => h("option", { value: n, selected: n === days }, n + " days")));
    const hoursHead = h("tr", {}, h("th", {}, "Day"), Array.from({ length: 24 }, (_, i) => h("th", {}, String(i).padStart(2, "0"))),
      h("th", {}, "Handoffs"), h("th", {}, "Peak"));
    const rows = Object.entries(byDay).map(([day, hours]) => {
      const cells = Array.from({ length: 24 }, (_, i) => {
        const row = hours.find((r) => Number(r.start.slice(11, 13)) === i);
        if (!row) return h("td", {});
        const need = row.agents_with_shrinkage;
        return h("td", {
          class: "staff-cell" + (need > online ? " staff-short" : ""),
          "data-testid": "staffing-cell",
          dataset: { start: row.start, agents: need },
          title: row.start.slice(0, 16).replace("T", " ") + ": " + row.handoffs.toFixed(1) + " handoffs expected, " +
            row.agents + " agents on the queue (" + need + " with shrinkage), occupancy " + percent(row.occupancy),
          style: { background: "rgba(35,87,217," + (0.08 + 0.6 * need / max).toFixed(2) + ")" },
        }, String(need));
      });
      const total = hours.reduce((sum, r) => sum + r.handoffs, 0);
      const peak = Math.max(...hours.map((r) => r.agents_with_shrinkage));
      return h("tr", { "data-testid": "staffing-day", dataset: { day } }, h("th", {}, day), cells,
        h("td", {}, total.toFixed(0)), h("td", { "data-testid": "staffing-peak" }, String(peak)));
    });
    clear(section).append(
      h("h2", {}, "Staffing: agents needed per hour"),
      d.simulated ? h("p", { class: "staff-simulated", "data-testid": "staffing-simulated" },
        "Simulated data (python -m bot desk simulate): " + d.simulated.from.slice(0, 10) + " to " + d.simulated.to.slice(0, 10)) : null,
      h("p", { class: "staff-summary" },
        h("span", {}, "Agents online now: "), h("strong", { "data-testid": "staffing-online" }, String(online)),
        h("span", {}, " of " + (d.agents || 0) + " · target " + percent(s.service_level) + " within " + s.target_seconds +
          " s · handle " + s.handle_seconds + " s · " + s.concurrency + " chat(s) at once · shrinkage " + percent(s.shrinkage) + " · "),
        h("span", {}, "forecast error (WAPE, last weeks): "), h("strong", { "data-testid": "staffing-wape" }, percent(hand.wape)),
        h("span", { class: "muted" }, " · " + d.timezone + " · "), chooser),
      (d.history_hours || 0) === 0 ? h("p", { class: "muted", "data-testid": "staffing-empty" },
        "No history yet: the forecast needs handoffs (try python -m bot desk simulate on a fresh desk).") : null,
      h("div", { class: "staff-scroll" }, h("table", { class: "staff-table", "data-testid": "staffing-table" },
        h("thead", {}, hoursHead), h("tbody", {}, rows))),
      h("p", { class: "muted" }, "Each cell: agents to schedule in that hour (shrinkage included); a red outline: more than are online now."),
    );
    section.hidden = false;
  }

  boot();
})();
