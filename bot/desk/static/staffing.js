/* The dashboard's staffing view: agents needed per hour for the coming days (GET /api/staffing: the forecast of
 * the desk's own history, staffed by Erlang C), beside the agents the rota schedules (settings.yml:
 * staffing.rota; the desk computes the gap, holidays and make-up days included) and the agents online now, with
 * the forecast's backtest error. An hour short of staff is outlined in red: scheduled below needed, or without a
 * rota, more needed than are online now. Renders into <section id="staffing"> once the dashboard has signed in;
 * refreshed every 5 minutes. */
"use strict";

(() => {
  const { api, h, clear, append } = Desk;
  const section = document.getElementById("staffing");
  const REFRESH_MS = 5 * 60 * 1000;
  const WAIT_FOR_SIGN_IN_MS = 1000;
  let days = 7;
  let loaded = false;
  const ROW_NAMES = { holiday: "holiday (rota: holiday)", workday: "make-up working day (rota: workday)", date: "(rota: own date)" };

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

  function agents(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  /* Short of staff: the desk's gap when there is a rota, else more needed than are online now. */
  function short(row, online) {
    return row.gap === null || row.gap === undefined ? row.agents_with_shrinkage > online : row.gap < 0;
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
      h("th", {}, "Handoffs"), h("th", {}, "Peak"), d.rota ? h("th", {}, "Short") : null);
    const dayInfo = Object.fromEntries((d.days || []).map((x) => [x.date, x]));
    const rows = Object.entries(byDay).map(([day, hours]) => {
      const cells = Array.from({ length: 24 }, (_, i) => {
        const row = hours.find((r) => Number(r.start.slice(11, 13)) === i);
        if (!row) return h("td", {});
        const need = row.agents_with_shrinkage;
        const rota = row.agents_scheduled !== null && row.agents_scheduled !== undefined;
        return h("td", {
          class: "staff-cell" + (short(row, online) ? " staff-short" : ""),
          "data-testid": "staffing-cell",
          dataset: rota ? { start: row.start, agents: need, scheduled: row.agents_scheduled, gap: row.gap }
            : { start: row.start, agents: need },
          title: row.start.slice(0, 16).replace("T", " ") + ": " + row.handoffs.toFixed(1) + " handoffs expected, " +
            row.agents + " agents on the queue (" + need + " with shrinkage), occupancy " + percent(row.occupancy) +
            (rota ? "; " + agents(row.agents_scheduled) + " scheduled, " + (row.gap < 0 ? "short by " + agents(-row.gap)
              : "enough") : ""),
          style: { background: "rgba(35,87,217," + (0.08 + 0.6 * need / max).toFixed(2) + ")" },
        }, h("span", { class: "staff-need", "data-testid": "staffing-need" }, String(need)),
        rota ? h("span", { class: "staff-scheduled", "data-testid": "staffing-scheduled" }, agents(row.agents_scheduled)) : null);
      });
      const total = hours.reduce((sum, r) => sum + r.handoffs, 0);
      const peak = Math.max(...hours.map((r) => r.agents_with_shrinkage));
      const info = dayInfo[day] || {};
      const kind = ROW_NAMES[info.rota];  // only the rows that are not the date's weekday are named
      return h("tr", { "data-testid": "staffing-day", dataset: { day, rota: info.rota || "" } },
        h("th", {}, day, kind ? h("span", { class: "staff-kind", "data-testid": "staffing-kind" }, " " + kind) : null),
        cells, h("td", {}, total.toFixed(0)), h("td", { "data-testid": "staffing-peak" }, String(peak)),
        d.rota ? h("td", { "data-testid": "staffing-short-hours" }, String(info.short_hours || 0)) : null);
    });
    // Desk.append skips the parts left out (null); the DOM's own append would print them as "null"
    append(clear(section), [
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
      h("p", { class: "muted", "data-testid": "staffing-legend" }, d.rota
        ? "Each cell: agents needed in that hour (shrinkage included) over agents scheduled by the rota (settings.yml: staffing.rota); a red outline: fewer scheduled than needed."
        : "Each cell: agents to schedule in that hour (shrinkage included); a red outline: more than are online now (no rota in settings.yml: staffing.rota)."),
    ]);
    section.hidden = false;
  }

  boot();
})();
