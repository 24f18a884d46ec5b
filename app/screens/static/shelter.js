/* The shelter's screen: tonight's rooms (steppers, out of service, one confirm button) and
 * the households coming in. Only this shelter's token: the API shows nothing else. */
(function () {
  "use strict";
  var A = window.Abri, t = A.t, el = A.el;

  var S = { shelterId: null, shelter: null, rooms: [], placements: [], timer: null, ticker: null, endArmed: null };
  var draft = null; // {changes: {room_id: {occupied_beds, out_of_service}}, sending: bool}

  function save() { A.saveDraft("rooms", draft); }
  function changed() { return Object.keys(draft.changes).length > 0; }

  async function refresh() {
    var id = encodeURIComponent(S.shelterId);
    var got = await Promise.all([
      A.api("GET", "/api/v1/shelters/" + id),
      A.api("GET", "/api/v1/shelters/" + id + "/rooms"),
      A.api("GET", "/api/v1/placements?limit=200&status=proposed&status=accepted&status=arrived"),
    ]);
    if (got[0].ok) S.shelter = got[0].data;
    if (got[1].ok) S.rooms = got[1].data;
    if (got[2].ok) S.placements = got[2].data.items;
    render();
    if (got[1].ok) document.body.dataset.loaded = "1"; // tests wait for the first data
  }
  function schedule() {
    clearTimeout(S.timer);
    S.timer = setTimeout(function () { refresh().then(schedule, schedule); }, A.pollInterval(15));
  }

  // --- rooms --------------------------------------------------------------------------
  function current(room) {
    var c = draft.changes[room.id];
    return c || { occupied_beds: room.occupied_beds, out_of_service: room.out_of_service };
  }
  function setRoom(room, value) {
    if (value.occupied_beds === room.occupied_beds && value.out_of_service === room.out_of_service) delete draft.changes[room.id];
    else draft.changes[room.id] = value;
    save();
    renderRooms();
  }
  function roomMeta(room) {
    var parts = [room.shared ? t("dorm_" + room.sex) : t("private_room")];
    parts.push(t("beds_n", { n: room.beds }));
    if (room.cribs) parts.push(t("cribs_n", { n: room.cribs }));
    if (room.wheelchair) parts.push(t("wheelchair_room"));
    return parts.join(" · ");
  }
  function renderRooms() {
    var list = document.getElementById("rooms");
    var focused = document.activeElement && document.activeElement.id;
    list.replaceChildren();
    S.rooms.forEach(function (room) {
      var v = current(room);
      var max = Math.max(0, room.beds - room.held_beds);
      var nameId = "room-" + room.id;
      var valueId = "occ-" + room.id;
      var minus = el("button", {
        type: "button", id: "minus-" + room.id, text: "−", "aria-describedby": valueId,
        "aria-label": t("one_less", { room: room.label }), "data-testid": "minus",
        disabled: v.occupied_beds <= 0 || v.out_of_service,
        onclick: function () { setRoom(room, { occupied_beds: v.occupied_beds - 1, out_of_service: v.out_of_service }); },
      });
      var plus = el("button", {
        type: "button", id: "plus-" + room.id, text: "+", "aria-describedby": valueId,
        "aria-label": t("one_more", { room: room.label }), "data-testid": "plus",
        disabled: v.occupied_beds >= max || v.out_of_service,
        onclick: function () { setRoom(room, { occupied_beds: v.occupied_beds + 1, out_of_service: v.out_of_service }); },
      });
      var oos = el("input", { type: "checkbox", id: "oos-" + room.id, "data-testid": "out-of-service", checked: v.out_of_service });
      oos.addEventListener("change", function () { setRoom(room, { occupied_beds: v.occupied_beds, out_of_service: oos.checked }); });
      var held = room.held_beds ? el("span", { class: "badge warn", text: t("held_n", { n: room.held_beds }) }) : null;
      list.appendChild(el("li", {
        class: "room" + (v.out_of_service ? " out" : "") + (draft.changes[room.id] ? " changed" : ""),
        "data-room-id": room.id, "data-testid": "room",
      }, [
        el("div", {}, [
          el("span", { class: "name", id: nameId, text: room.label }), " ", held,
          el("span", { class: "meta detail", text: roomMeta(room) }),
        ]),
        el("div", { class: "stepper", role: "group", "aria-labelledby": nameId }, [
          minus,
          el("output", { id: valueId, "data-testid": "occupied", "aria-live": "polite", text: t("occupied_of", { n: v.occupied_beds, beds: room.beds }) }),
          plus,
        ]),
        el("label", { class: "check oos", for: "oos-" + room.id }, [oos, " ", t("out_of_service")]),
      ]));
    });
    if (!S.rooms.length) list.appendChild(el("li", { class: "muted", text: t("no_rooms") }));
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    var note = document.getElementById("rooms-draft-note");
    note.hidden = !(changed() || draft.sending);
    note.textContent = draft.sending ? t("rooms_sending_when_back") : t("rooms_unsent", { n: Object.keys(draft.changes).length });
    document.getElementById("discard").hidden = !changed() || draft.sending;
  }

  function renderHeader() {
    var s = S.shelter;
    if (!s) return;
    document.getElementById("shelter-name").textContent = s.name + " — " + s.commune;
    var last = s.availability_updated_at;
    document.getElementById("last-confirmed").textContent = last
      ? t("last_confirmed", { at: A.fmtDateTime(last), ago: A.since(last) })
      : t("never_confirmed");
    var held = S.rooms.reduce(function (n, r) { return n + r.held_beds; }, 0);
    var free = S.rooms.reduce(function (n, r) { return n + r.free_beds; }, 0);
    document.getElementById("held-summary").textContent = t("held_summary", { held: held, free: free });
  }

  async function confirm() {
    draft.sending = true;
    save();
    renderRooms();
    await sendAvailability();
  }
  async function sendAvailability() {
    if (!draft.sending) return;
    var items = S.rooms.map(function (room) {
      var v = current(room);
      return { room_id: room.id, out_of_service: v.out_of_service, occupied_beds: v.occupied_beds };
    });
    var resp = await A.api("PUT", "/api/v1/shelters/" + encodeURIComponent(S.shelterId) + "/availability", { body: items });
    if (resp.status === 0) { A.renderBanner(); renderRooms(); return; } // kept; sent when back
    draft = { changes: {}, sending: false };
    save();
    A.renderBanner();
    if (resp.ok) {
      S.rooms = resp.data.rooms;
      if (S.shelter) S.shelter.availability_updated_at = resp.data.availability_updated_at;
      A.notice(t("confirmed_ok", { at: A.fmtTime(resp.data.availability_updated_at) }));
      render();
      return;
    }
    // 409 (a change overlapping held beds), 412/428 (changed meanwhile), 422: say why, reload.
    A.notice(t("not_saved", { why: A.problemText(resp) }), "error");
    await refresh();
  }

  // --- incoming households ------------------------------------------------------------
  function stateText(p) {
    if (p.status === "proposed") {
      return el("span", {}, [t("held_until", { at: A.fmtTime(p.expires_at) }), " (",
        el("span", { class: "countdown", "data-expires": p.expires_at, text: t("expires_in", { left: A.countdown(p.expires_at) }) }), ")"]);
    }
    if (p.status === "accepted") return el("span", { class: "badge ok", text: t("on_the_way_since", { at: A.fmtTime(p.accepted_at) }) });
    return el("span", { class: "badge", text: t("in_since", { at: A.fmtTime(p.arrived_at) }) });
  }
  function roomLabels(p) {
    var names = {};
    S.rooms.forEach(function (r) { names[r.id] = r.label; });
    return p.room_ids.map(function (id) { return names[id] || id; }).join(", ");
  }
  function renderIncoming() {
    var list = document.getElementById("incoming");
    list.replaceChildren();
    var order = { proposed: 1, accepted: 0, arrived: 2 };
    var items = S.placements.slice().sort(function (a, b) { return order[a.status] - order[b.status]; });
    items.forEach(function (p) {
      var buttons = [];
      if (p.status === "proposed" || p.status === "accepted") {
        buttons.push(el("button", { type: "button", class: "primary", text: t("arrived"), "data-testid": "arrive", onclick: function () { step(p, "arrive"); } }));
        buttons.push(el("button", { type: "button", class: "danger", text: t("decline"), "data-testid": "decline", onclick: function () { openDecline(p); } }));
      } else if (p.status === "arrived") {
        var armed = S.endArmed === p.id;
        buttons.push(el("button", {
          type: "button", text: armed ? t("end_confirm") : t("end_stay"), "data-testid": "end", class: armed ? "danger" : null,
          onclick: function () {
            if (S.endArmed === p.id) { S.endArmed = null; step(p, "end"); }
            else { S.endArmed = p.id; renderIncoming(); document.querySelector('[data-placement-id="' + p.id + '"] [data-testid=end]').focus(); }
          },
        }));
      }
      list.appendChild(el("li", { "data-placement-id": p.id, "data-status": p.status, "data-testid": "incoming-item" }, [
        el("strong", { text: t("people_n", { n: p.household.people }) + " : " + A.composition(p.household.members) }),
        el("span", { class: "detail", text: A.needsText(p.household.needs) + " · " + A.fmtKm(p.km) + " · " + t("rooms_label", { rooms: roomLabels(p) }) }),
        el("div", {}, [stateText(p)]),
        el("div", { class: "buttons" }, buttons),
      ]));
    });
    if (!items.length) list.appendChild(el("li", { class: "muted", text: t("no_incoming") }));
  }

  async function step(p, action, body) {
    var resp = await A.api("POST", "/api/v1/placements/" + p.id + "/" + action, {
      // The placement's ETag as GET /placements/{id} gives it: a stale screen gets 412.
      body: body,
      headers: { "If-Match": '"' + p.id + "-v" + p.version + '"' },
    });
    if (resp.ok) A.notice(t(action + "_ok"));
    else A.notice(A.problemText(resp), "error");
    await refresh();
  }
  function openDecline(p) {
    var dialog = document.getElementById("decline-dialog");
    document.getElementById("decline-reason").value = "";
    document.getElementById("decline-error").hidden = true;
    S.declining = p;
    dialog.showModal();
    document.getElementById("decline-reason").focus();
  }
  async function confirmDecline(event) {
    event.preventDefault();
    var reason = document.getElementById("decline-reason").value.trim();
    if (!reason) {
      var err = document.getElementById("decline-error");
      err.textContent = t("reason_required"); err.hidden = false; return;
    }
    document.getElementById("decline-dialog").close();
    await step(S.declining, "decline", { reason: reason });
  }

  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (node) {
      var at = node.getAttribute("data-expires");
      node.textContent = t("expires_in", { left: A.countdown(at) });
    });
  }
  function render() { renderHeader(); renderRooms(); renderIncoming(); }

  function start(me) {
    S.shelterId = me.shelter_id;
    draft = A.loadDraft("rooms") || { changes: {}, sending: false };
    refresh().then(function () { sendAvailability(); schedule(); });
    S.ticker = setInterval(tick, 1000);
  }
  function stop() { clearTimeout(S.timer); clearInterval(S.ticker); }

  function init() {
    document.getElementById("confirm").addEventListener("click", confirm);
    document.getElementById("discard").addEventListener("click", function () {
      draft = { changes: {}, sending: false }; save(); renderRooms();
      document.getElementById("confirm").focus();
    });
    document.getElementById("decline-form").addEventListener("submit", confirmDecline);
    document.getElementById("decline-cancel").addEventListener("click", function () { document.getElementById("decline-dialog").close(); });
    A.onOnline(function () { if (S.shelterId) sendAvailability().then(refresh); });
    A.onLang(function () { if (S.shelterId) render(); });
    A.init({
      app: "shelter", roles: ["shelter"], start: start, stop: stop,
      queuedCount: function () { return draft && draft.sending ? 1 : 0; },
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
