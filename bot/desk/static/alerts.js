/* Acting before the breach, in the console: the "At risk" panel (GET /api/at-risk, kept live by the stream's
 * `at_risk` events), a browser notification (once the agent allowed them) and a sound (which the agent can turn
 * off, remembered in this browser) when a ticket the agent owns, or could take, turns yellow or red; the
 * supervisors' `escalation` alerts. Used by console.js. */
"use strict";

const DeskAlerts = (() => {
  const { h, clear, light } = Desk;
  const SOUND_KEY = "frontline.desk.sound";
  const GENERAL_SKILL = "general";
  const told = new Set(); // "<ticket>:<light>" already notified in this page (a replayed event is not told again)
  let audio = null;

  function soundOn() {
    return localStorage.getItem(SOUND_KEY) !== "off";
  }

  function setSound(on) {
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  }

  /* A short two-tone chime made with Web Audio (no sound file to fetch). */
  function chime(urgent) {
    if (!soundOn()) return false;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return false;
    try {
      audio = audio || new Context();
      const start = audio.currentTime;
      [0, 0.18].forEach((offset, i) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = urgent ? (i ? 660 : 990) : (i ? 660 : 880);
        gain.gain.setValueAtTime(0.15, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.17);
      });
      return true;
    } catch (err) {
      return false;
    }
  }

  function notificationsAllowed() {
    return "Notification" in window && Notification.permission === "granted";
  }

  function notify(title, body, tag, onClick) {
    if (!notificationsAllowed()) return null;
    try {
      const note = new Notification(title, { body, tag });
      note.onclick = () => {
        window.focus();
        if (onClick) onClick();
        note.close();
      };
      return note;
    } catch (err) {
      return null;
    }
  }

  /* The panel's head: ask for the notification permission (a click is needed), turn the sound on or off. */
  function controls() {
    const wrap = h("div", { class: "alert-controls" });
    const render = () => {
      const permission = "Notification" in window ? Notification.permission : "unsupported";
      clear(wrap).append(
        permission === "default"
          ? h("button", { type: "button", "data-testid": "notify-enable", onclick: async () => {
            await Notification.requestPermission();
            render();
          } }, "Enable notifications")
          : h("span", { class: "muted", "data-testid": "notify-state" }, permission === "granted" ? "Notifications on" : "Notifications " + permission),
        h("button", { type: "button", "data-testid": "sound-toggle", "aria-pressed": String(soundOn()), onclick: () => {
          setSound(!soundOn());
          render();
        } }, soundOn() ? "Sound: on" : "Sound: off"),
      );
    };
    render();
    return wrap;
  }

  function rank(t) {
    return t.sla === "red" ? 2 : t.sla === "yellow" ? 1 : 0;
  }

  /* The at-risk list: red first, then yellow (the order GET /api/at-risk gives, kept for live additions). */
  function renderPanel(list, tickets, onOpen) {
    const items = Array.from(tickets.values()).filter((t) => rank(t) > 0);
    items.sort((a, b) => rank(b) - rank(a) || String(a.due && a.due.first_response).localeCompare(String(b.due && b.due.first_response)));
    clear(list);
    if (!items.length) {
      list.appendChild(h("li", { class: "empty muted" }, "Nothing at risk."));
      return;
    }
    for (const t of items) {
      list.appendChild(h("li", { class: "at-risk-item", dataset: { ticketId: t.id, testid: "at-risk-item", light: t.sla } },
        h("button", { type: "button", onclick: () => onOpen(t.id) },
          light(t.sla, "SLA"), " ", h("strong", {}, t.id), " ",
          h("span", { class: "grade grade-" + t.grade }, t.grade), " ",
          h("span", { class: "muted" }, t.assignee ? "→ " + t.assignee : "queued · " + t.skill))));
    }
  }

  function couldTake(me, t) {
    if (t.status !== "queued" || t.assignee) return false;
    if (t.requires_senior && !me.senior) return false;
    const skills = me.skills || [];
    return skills.includes("*") || skills.includes(t.skill) || (t.overflow && skills.includes(GENERAL_SKILL));
  }

  /* A ticket the agent owns, or could take from the queue. */
  function concerns(me, t) {
    return t.assignee === me.name || couldTake(me, t);
  }

  function isSupervisor(me) {
    return me.role === "supervisor" || me.role === "admin"; // /api/me carries the role (bot/desk/roles.py)
  }

  /* An `at_risk` event: notify (and chime) when it concerns this agent; true when it did. */
  function atRisk(me, data, onOpen) {
    const t = data.ticket;
    const key = t.id + ":" + data.light;
    if (told.has(key) || !concerns(me, t)) return false;
    told.add(key);
    const owned = t.assignee === me.name;
    const what = data.light === "red" ? "is overdue" : "is close to its SLA";
    notify(t.id + " " + what, (owned ? "Your ticket" : "Queued for " + t.skill) + " · grade " + t.grade + " · " + t.reason,
      "at-risk-" + key, () => onOpen(t.id));
    chime(data.light === "red");
    return true;
  }

  /* An `escalation` event: the supervisors are told. */
  function escalation(me, data, onOpen) {
    const t = data.ticket;
    const key = t.id + ":escalation";
    if (told.has(key) || !isSupervisor(me)) return false;
    told.add(key);
    const where = data.moved_to ? "back to the top of the " + data.moved_to + " queue" : "still with " + (t.assignee || "the queue");
    notify("Escalation: " + t.id + " is red", "Grade " + t.grade + " · " + where, "escalation-" + t.id, () => onOpen(t.id));
    chime(true);
    return true;
  }

  /* A ticket offered to this agent (auto-assignment): accept or decline it before the offer lapses. */
  function offer(t, onOpen) {
    const key = t.id + ":offer:" + t.offer_expires;
    if (told.has(key)) return false;
    told.add(key);
    notify("Ticket " + t.id + " is offered to you", "Grade " + t.grade + " · " + t.reason + " · accept or decline",
      "offer-" + t.id, () => onOpen(t.id));
    chime(false);
    return true;
  }

  return { offer, controls, renderPanel, atRisk, escalation, rank, concerns, soundOn };
})();
