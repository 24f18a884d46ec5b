/* The 115 operator's console: the queue, the request form, runs, proposals and options.
 * Everything goes through the public API with the operator's own token. */
(function () {
  "use strict";
  var A = window.Abri, t = A.t, el = A.el;
  var OPEN = ["pending", "proposed", "accepted"];

  var S = {
    requests: [], byId: {}, placements: [], shelters: [], shelterById: {}, freshness: {},
    run: null, runEtag: null, timer: null, ticker: null, map: null, optionsFor: null,
    gen: 0, // moves at every start (a national admin's new territory): late answers are dropped
  };
  function clearData() {
    Object.assign(S, {
      requests: [], byId: {}, placements: [], shelters: [], shelterById: {}, freshness: {},
      run: null, runEtag: null, optionsFor: null,
    });
  }
  var draft = null; // the form's content, mirrored in sessionStorage on every keystroke

  // --- data -------------------------------------------------------------------------
  function qs(statuses) { return statuses.map(function (s) { return "status=" + s; }).join("&"); }

  async function refresh() {
    var gen = S.gen;
    var got = await Promise.all([
      A.api("GET", "/api/v1/requests?limit=500&" + qs(OPEN)),
      A.api("GET", "/api/v1/placements?limit=500&" + qs(["proposed", "accepted"])),
      A.api("GET", "/api/v1/shelters"),
      A.api("GET", "/api/v1/dashboard/summary"),
      A.api("GET", "/api/v1/allocations/latest", { headers: S.runEtag ? { "If-None-Match": S.runEtag } : {} }),
    ]);
    if (gen !== S.gen) return; // asked for the territory shown before
    if (got[0].ok) {
      S.requests = got[0].data.items;
      S.byId = {};
      S.requests.forEach(function (r) { S.byId[r.id] = r; });
    }
    if (got[1].ok) S.placements = got[1].data.items;
    if (got[2].ok) {
      S.shelters = got[2].data;
      S.shelterById = {};
      S.shelters.forEach(function (s) { S.shelterById[s.id] = s; });
    }
    if (got[3].ok) {
      S.freshness = {};
      got[3].data.freshness.shelters.forEach(function (f) { S.freshness[f.shelter_id] = f.freshness; });
    }
    if (got[4].ok) { S.run = got[4].data; S.runEtag = got[4].etag; }
    renderAll();
    if (got[0].ok) document.body.dataset.loaded = "1"; // tests wait for the first data
  }

  function schedule() {
    clearTimeout(S.timer);
    S.timer = setTimeout(function () { refresh().then(schedule, schedule); }, A.pollInterval(15));
  }

  // --- small renderers ----------------------------------------------------------------
  function shelterName(id) { return (S.shelterById[id] && S.shelterById[id].name) || id; }
  function shelterCell(id) {
    var stale = S.freshness[id] === "stale";
    return el("span", {}, [
      shelterName(id),
      stale ? " " : null,
      stale ? el("span", { class: "badge stale", "data-testid": "stale-mark", text: t("stale_data") }) : null,
    ]);
  }
  function householdOf(requestId, fallback) {
    var r = S.byId[requestId];
    if (r) return A.composition(r.members);
    return fallback ? A.composition(fallback.members) : "—";
  }
  function holdCell(p) {
    if (p.status === "proposed" && p.expires_at) {
      return el("span", { class: "countdown", "data-expires": p.expires_at, text: t("expires_in", { left: A.countdown(p.expires_at) }) });
    }
    if (p.status === "accepted") return el("span", { class: "badge ok", text: t("on_the_way") });
    return el("span", { text: t("status_" + p.status) });
  }
  function actionButton(label, handler, attrs) {
    return el("button", Object.assign({ type: "button", text: label, onclick: handler }, attrs || {}));
  }
  function placementActions(p) {
    var out = [];
    if (p.status === "proposed") {
      out.push(actionButton(t("accept"), function () { accept(p.placement_id || p.id); }, { class: "primary", "data-testid": "accept" }));
    }
    if (p.status === "proposed" || p.status === "accepted") {
      out.push(actionButton(t("decline"), function () { decline(p.placement_id || p.id); }, { class: "danger", "data-testid": "decline" }));
    }
    return el("td", { class: "actions" }, out);
  }

  function renderQueue() {
    var pending = S.requests.filter(function (r) { return r.status === "pending"; });
    A.fillBody(document.getElementById("queue"), pending.map(function (r) {
      var reason = r.unplaced_code
        ? el("span", {}, [el("strong", { text: reasonLabel(r.unplaced_code) }), el("span", { class: "detail", text: r.unplaced_detail || "" })])
        : el("span", { class: "muted", text: t("no_run_yet") });
      return el("tr", { "data-request-id": r.id }, [
        el("td", {}, [A.prioBadge(r.priority)]),
        el("td", { text: A.since(r.waiting_since), title: A.fmtDateTime(r.waiting_since) }),
        el("td", {}, [
          el("span", { text: A.composition(r.members) }),
          el("span", { class: "detail", text: A.needsText(r.needs) }),
          el("span", { class: "detail", text: r.reference }),
        ]),
        el("td", {}, [reason]),
        el("td", { class: "actions" }, [
          actionButton(t("options"), function () { showOptions(r.id); }, { "aria-label": t("options_for", { ref: r.reference }) }),
          actionButton(t("amend"), function () { startAmend(r.id); }, { "aria-label": t("amend_for", { ref: r.reference }) }),
        ]),
      ]);
    }), t("queue_empty"));
  }

  function renderHolds() {
    A.fillBody(document.getElementById("holds"), S.placements.map(function (p) {
      return el("tr", { "data-placement-id": p.id }, [
        el("td", {}, [shelterCell(p.shelter_id)]),
        el("td", { text: A.composition(p.household.members) }),
        el("td", { class: "num", text: A.fmtKm(p.km) }),
        el("td", {}, [holdCell(p)]),
        placementActions(p),
      ]);
    }), t("holds_empty"));
  }

  function reasonLabel(code) { return A.has("reason_" + code) ? t("reason_" + code) : code; }

  function renderPlan() {
    var box = document.getElementById("plan-body");
    box.replaceChildren();
    var run = S.run;
    if (!run) { box.appendChild(el("p", { class: "muted", text: t("plan_none") })); return; }
    var fact = function (k, v, id) { return el("div", {}, [el("dt", { text: k }), el("dd", { text: v, "data-testid": id })]); };
    box.appendChild(el("dl", { class: "facts" }, [
      fact(t("run_started"), A.fmtTime(run.started_at), "run-started"),
      fact(t("run_status"), t("run_" + run.status), "run-status-value"),
      fact(t("run_considered"), String(run.requests_considered), "run-considered"),
      fact(t("run_proposals"), String(run.proposals.length), "run-proposals"),
      fact(t("run_unplaced"), String(run.unplaced.length), "run-unplaced"),
    ]));
    var placed = (run.objective && run.objective.people_placed_by_priority) || {};
    var bound = (run.bound && run.bound.people_placed_by_priority) || {};
    var prioTable = el("table", { id: "plan-priorities", "data-testid": "plan-priorities" }, [
      el("caption", { text: t("placed_vs_bound") }),
      el("thead", {}, [el("tr", {}, [
        el("th", { scope: "col", text: t("priority") }),
        el("th", { scope: "col", class: "num", text: t("placed") }),
        el("th", { scope: "col", class: "num", text: t("bound") }),
      ])]),
      el("tbody", {}, ["4", "3", "2", "1"].map(function (p) {
        return el("tr", {}, [
          el("th", { scope: "row" }, [A.prioBadge(p)]),
          el("td", { class: "num", text: String(placed[p] || 0) }),
          el("td", { class: "num", text: bound[p] === undefined ? "—" : String(bound[p]) }),
        ]);
      })),
    ]);
    box.appendChild(prioTable);
    if (run.objective) {
      box.appendChild(el("p", { class: "small muted", text: t("total_km", { km: A.fmtKm(run.objective.total_km || 0) }) }));
    }
    box.appendChild(el("h3", { text: t("proposals_by_shelter") }));
    var byShelter = {};
    run.proposals.forEach(function (p) { (byShelter[p.shelter_id] = byShelter[p.shelter_id] || []).push(p); });
    var ids = Object.keys(byShelter).sort(function (a, b) { return shelterName(a).localeCompare(shelterName(b)); });
    if (!ids.length) box.appendChild(el("p", { class: "muted", text: t("no_proposals") }));
    ids.forEach(function (sid) {
      var rows = byShelter[sid].map(function (p) {
        return el("tr", { "data-placement-id": p.placement_id, "data-request-id": p.request_id }, [
          el("td", { text: householdOf(p.request_id) + " (" + t("people_n", { n: p.people }) + ")" }),
          el("td", { class: "num", text: A.fmtKm(p.km) }),
          el("td", {}, [holdCell(p)]),
          placementActions(p),
        ]);
      });
      var table = el("table", {}, [
        el("caption", { class: "visually-hidden", text: t("proposals_at", { name: shelterName(sid) }) }),
        el("thead", {}, [el("tr", {}, [
          el("th", { scope: "col", text: t("household") }), el("th", { scope: "col", class: "num", text: "km" }),
          el("th", { scope: "col", text: t("hold") }), el("th", { scope: "col", text: t("actions") }),
        ])]),
        el("tbody", {}, rows),
      ]);
      box.appendChild(el("div", { class: "shelter-block", "data-shelter-id": sid, "data-testid": "plan-shelter" }, [
        el("h4", {}, [shelterCell(sid)]), table,
      ]));
    });
    box.appendChild(el("h3", { text: t("unplaced_title") }));
    var unplaced = el("ul", { "data-testid": "unplaced" });
    run.unplaced.forEach(function (u) {
      var r = S.byId[u.request_id];
      unplaced.appendChild(el("li", { "data-request-id": u.request_id }, [
        r ? A.prioBadge(r.priority) : null, " ",
        el("span", { text: (r ? A.composition(r.members) + " — " : "") + reasonLabel(u.code) }),
        el("span", { class: "detail", "data-testid": "unplaced-detail", text: u.detail }),
        r && r.status === "pending" ? actionButton(t("options"), function () { showOptions(u.request_id); }) : null,
      ]));
    });
    if (!run.unplaced.length) unplaced.appendChild(el("li", { class: "muted", text: t("all_placed") }));
    box.appendChild(unplaced);
  }

  function tickCountdowns() {
    document.querySelectorAll("[data-expires]").forEach(function (node) {
      var at = node.getAttribute("data-expires");
      node.textContent = t("expires_in", { left: A.countdown(at) });
      node.classList.toggle("soon", new Date(at).getTime() - Date.now() < 5 * 60000);
    });
  }

  function renderAll() {
    renderQueue();
    renderHolds();
    renderPlan();
    renderPickers();
    drawMap();
  }

  // --- actions ------------------------------------------------------------------------
  async function act(resp, okText) {
    if (resp.ok) { A.notice(okText); await refresh(); return true; }
    A.notice(A.problemText(resp), "error");
    if (resp.status === 409 || resp.status === 412) await refresh();
    return false;
  }
  async function accept(id) {
    await act(await A.api("POST", "/api/v1/placements/" + id + "/accept"), t("accepted_ok"));
  }
  function decline(id) {
    var dialog = document.getElementById("decline-dialog");
    var reason = document.getElementById("decline-reason");
    var err = document.getElementById("decline-error");
    reason.value = "";
    err.hidden = true;
    dialog.dataset.placementId = id;
    dialog.showModal();
    reason.focus();
  }
  async function confirmDecline(event) {
    event.preventDefault();
    var dialog = document.getElementById("decline-dialog");
    var reason = document.getElementById("decline-reason").value.trim();
    var err = document.getElementById("decline-error");
    if (!reason) { err.textContent = t("reason_required"); err.hidden = false; return; }
    var resp = await A.api("POST", "/api/v1/placements/" + dialog.dataset.placementId + "/decline", { body: { reason: reason } });
    dialog.close();
    await act(resp, t("declined_ok"));
  }
  async function runAllocation() {
    var button = document.getElementById("run-allocation");
    var status = document.getElementById("run-status");
    button.disabled = true;
    status.textContent = t("running");
    var resp = await A.api("POST", "/api/v1/allocations");
    button.disabled = false;
    status.textContent = "";
    if (resp.ok) {
      S.run = resp.data;
      S.runEtag = null;
      A.notice(t("run_done", { p: resp.data.proposals.length, u: resp.data.unplaced.length }));
      await refresh();
      document.getElementById("plan-title").scrollIntoView();
    } else {
      A.notice(A.problemText(resp), "error");
    }
  }

  async function showOptions(requestId) {
    var card = document.getElementById("options");
    var box = document.getElementById("options-body");
    S.optionsFor = requestId;
    card.hidden = false;
    box.replaceChildren(el("p", { class: "muted", text: t("loading") }));
    var gen = S.gen;
    var resp = await A.api("GET", "/api/v1/requests/" + requestId + "/options");
    if (gen !== S.gen) return;
    box.replaceChildren();
    if (!resp.ok) { box.appendChild(el("p", { class: "error", text: A.problemText(resp) })); card.focus(); return; }
    var o = resp.data, r = S.byId[requestId];
    box.appendChild(el("p", { text: (r ? r.reference + " — " + A.composition(r.members) + ". " : "") + o.detail }));
    var rows = o.options.map(function (opt) {
      return el("tr", { "data-shelter-id": opt.shelter_id }, [
        el("td", {}, [shelterCell(opt.shelter_id)]),
        el("td", { class: "num", text: A.fmtKm(opt.km) }),
        el("td", { text: t("rooms_n", { n: opt.room_ids.length }) + (opt.wasted_beds ? " · " + t("wasted_n", { n: opt.wasted_beds }) : "") }),
        el("td", { text: opt.language_match ? t("yes") : "—" }),
        el("td", { class: "actions" }, [actionButton(t("place_here"), function () { placeManually(requestId, opt); }, { "aria-label": t("place_at", { name: opt.shelter_name }) })]),
      ]);
    });
    var table = el("table", { "data-testid": "options-table" }, [
      el("caption", { text: t("options_caption") }),
      el("thead", {}, [el("tr", {}, [
        el("th", { scope: "col", text: t("shelter") }), el("th", { scope: "col", class: "num", text: "km" }),
        el("th", { scope: "col", text: t("fitting_rooms") }), el("th", { scope: "col", text: t("language_match") }),
        el("th", { scope: "col", text: t("actions") }),
      ])]),
      el("tbody"),
    ]);
    box.appendChild(table);
    A.fillBody(table, rows, t("no_options"));
    var ruled = el("ul", { "data-testid": "ruled-out" });
    Object.keys(o.ruled_out).forEach(function (rule) {
      if (!o.ruled_out[rule]) return;
      ruled.appendChild(el("li", { text: t("ruled_out_n", { n: o.ruled_out[rule], rule: A.has("rule_" + rule) ? t("rule_" + rule) : rule }) }));
    });
    if (o.no_room_fits) ruled.appendChild(el("li", { text: t("no_room_fits_n", { n: o.no_room_fits }) }));
    box.appendChild(el("h3", { text: t("ruled_out_title") }));
    box.appendChild(ruled);
    card.focus();
  }
  async function placeManually(requestId, opt) {
    var resp = await A.api("POST", "/api/v1/requests/" + requestId + "/placements", {
      body: { shelter_id: opt.shelter_id, room_ids: opt.room_ids },
      headers: { "Idempotency-Key": A.newKey() },
    });
    if (await act(resp, t("placed_ok", { name: opt.shelter_name }))) {
      document.getElementById("options").hidden = true;
    }
  }

  // --- the request form -------------------------------------------------------------
  function emptyDraft() {
    return {
      mode: "new", id: null, etag: null, reference: "", priority: "2", members: [{ age: "", sex: "" }],
      needs: { dv_specialised: false, secure: false, wheelchair: false, pets: false, language: "" },
      lat: "", lon: "", max_km: "", avoid: [], excluded: [], keep: [], sending: null,
    };
  }
  function save() { A.saveDraft("draft", draft); }

  function num(v) {
    var s = String(v).trim().replace(",", ".");
    if (s === "") return null;
    var n = Number(s);
    return isNaN(n) ? s : n; // a non-number goes as typed: the API names the field
  }
  function body() {
    var n = draft.needs;
    return {
      reference: draft.reference.trim(),
      priority: Number(draft.priority),
      origin: { lat: num(draft.lat), lon: num(draft.lon) },
      max_km: num(draft.max_km),
      members: draft.members.map(function (m) { return { age: num(m.age), sex: m.sex || null }; }),
      needs: { dv_specialised: n.dv_specialised, secure: n.secure, wheelchair: n.wheelchair, pets: n.pets, language: n.language.trim() || null },
      avoid: draft.avoid.map(function (z) { return { lat: num(z.lat), lon: num(z.lon), km: num(z.km) }; }),
      excluded_shelters: draft.excluded.slice(),
      keep_apart: draft.keep.map(function (k) { return { request_id: k.request_id, km: num(k.km) }; }),
    };
  }

  function field(labelText, input) {
    return el("div", { class: "field" }, [el("label", { for: input.id, text: labelText }), input]);
  }
  function boundInput(id, value, loc, onValue, extra) {
    var input = el("input", Object.assign({ id: id, value: value, "data-loc": loc, inputmode: "decimal" }, extra || {}));
    input.addEventListener("input", function () { onValue(input.value); save(); drawMap(); });
    return input;
  }

  function renderMembers() {
    var list = document.getElementById("members-list");
    list.replaceChildren();
    draft.members.forEach(function (m, i) {
      var age = boundInput("m-age-" + i, m.age, "members." + i + ".age", function (v) { m.age = v; }, { size: 4, "data-testid": "member-age" });
      var sex = el("select", { id: "m-sex-" + i, "data-loc": "members." + i + ".sex", "data-testid": "member-sex" }, [
        el("option", { value: "", text: "—" }),
        el("option", { value: "F", text: t("sex_F_long") }),
        el("option", { value: "M", text: t("sex_M_long") }),
      ]);
      sex.value = m.sex;
      sex.addEventListener("change", function () { m.sex = sex.value; save(); });
      [age, sex].forEach(function (input) {
        input.addEventListener("keydown", function (event) {
          if (event.key === "Enter") { event.preventDefault(); addMember(); }
        });
      });
      var remove = actionButton(t("remove"), function () {
        draft.members.splice(i, 1);
        if (!draft.members.length) draft.members.push({ age: "", sex: "" });
        save(); renderMembers();
        document.getElementById("m-age-" + Math.max(0, i - 1)).focus();
      }, { "aria-label": t("remove_person", { n: i + 1 }) });
      list.appendChild(el("div", { class: "member", role: "group", "aria-label": t("person_n", { n: i + 1 }) }, [
        field(t("age"), age), field(t("sex"), sex), remove,
      ]));
    });
  }
  function addMember() {
    draft.members.push({ age: "", sex: "" });
    save(); renderMembers();
    document.getElementById("m-age-" + (draft.members.length - 1)).focus();
  }

  function renderZones() {
    var list = document.getElementById("zones-list");
    list.replaceChildren();
    draft.avoid.forEach(function (z, i) {
      var parts = ["lat", "lon", "km"].map(function (k) {
        return field(t("zone_" + k), boundInput("z-" + k + "-" + i, z[k], "avoid." + i + "." + k, function (v) { z[k] = v; }, { size: 8 }));
      });
      parts.push(actionButton(t("remove"), function () { draft.avoid.splice(i, 1); save(); renderZones(); drawMap(); document.getElementById("add-zone").focus(); },
        { "aria-label": t("remove_zone", { n: i + 1 }) }));
      list.appendChild(el("div", { class: "zone", role: "group", "aria-label": t("zone_n", { n: i + 1 }), "data-testid": "zone-row" }, parts));
    });
  }

  function renderChips() {
    var ex = document.getElementById("excluded-list");
    ex.replaceChildren();
    draft.excluded.forEach(function (sid, i) {
      ex.appendChild(el("li", { "data-loc": "excluded_shelters." + i }, [shelterName(sid), " ",
        actionButton(t("remove"), function () { draft.excluded.splice(i, 1); save(); renderChips(); }, { class: "link", "aria-label": t("remove_item", { name: shelterName(sid) }) })]));
    });
    var keep = document.getElementById("keep-list");
    keep.replaceChildren();
    draft.keep.forEach(function (k, i) {
      var r = S.byId[k.request_id];
      var label = (r ? r.reference : k.request_id) + " — " + t("at_least_km", { km: k.km });
      keep.appendChild(el("li", { "data-loc": "keep_apart." + i }, [label, " ",
        actionButton(t("remove"), function () { draft.keep.splice(i, 1); save(); renderChips(); }, { class: "link", "aria-label": t("remove_item", { name: label }) })]));
    });
  }

  function renderPickers() {
    var communes = {};
    S.shelters.forEach(function (s) {
      var c = (communes[s.commune] = communes[s.commune] || { lat: 0, lon: 0, n: 0 });
      c.lat += s.lat; c.lon += s.lon; c.n += 1;
    });
    var commune = document.getElementById("f-commune");
    var keepValue = commune.value;
    commune.replaceChildren(el("option", { value: "", text: t("commune_none") }));
    Object.keys(communes).sort().forEach(function (name) {
      var c = communes[name];
      commune.appendChild(el("option", { value: (c.lat / c.n).toFixed(4) + "," + (c.lon / c.n).toFixed(4), text: name }));
    });
    commune.value = keepValue;
    var ex = document.getElementById("f-exclude-pick");
    ex.replaceChildren();
    S.shelters.slice().sort(function (a, b) { return a.name.localeCompare(b.name); }).forEach(function (s) {
      ex.appendChild(el("option", { value: s.id, text: s.name + " · " + s.commune }));
    });
    var keep = document.getElementById("f-keep-pick");
    var kv = keep.value;
    keep.replaceChildren();
    S.requests.filter(function (r) { return r.id !== draft.id; }).forEach(function (r) {
      keep.appendChild(el("option", { value: r.id, text: r.reference + " · P" + r.priority + " · " + A.composition(r.members) }));
    });
    if (kv && S.byId[kv]) keep.value = kv;
    renderChips();
  }

  function drawMap() {
    if (!S.map) return;
    var origin = typeof num(draft.lat) === "number" && typeof num(draft.lon) === "number" ? { lat: num(draft.lat), lon: num(draft.lon) } : null;
    var zones = draft.avoid.map(function (z) { return { lat: num(z.lat), lon: num(z.lon), km: num(z.km) }; })
      .filter(function (z) { return typeof z.lat === "number" && typeof z.lon === "number" && typeof z.km === "number"; });
    S.map.draw({ origin: origin, zones: zones, maxKm: typeof num(draft.max_km) === "number" ? num(draft.max_km) : null });
  }
  function pickOnMap(lat, lon) {
    var mode = document.querySelector("input[name=map-mode]:checked").value;
    if (mode === "zone") {
      draft.avoid.push({ lat: String(lat), lon: String(lon), km: document.getElementById("f-zone-km").value || "10" });
      renderZones();
      A.notice(t("zone_added", { lat: lat, lon: lon }));
    } else {
      draft.lat = String(lat); draft.lon = String(lon);
      document.getElementById("f-lat").value = draft.lat;
      document.getElementById("f-lon").value = draft.lon;
      A.notice(t("origin_set", { lat: lat, lon: lon }));
    }
    save(); drawMap();
  }

  function fillForm() {
    document.getElementById("f-reference").value = draft.reference;
    document.getElementById("f-priority").value = draft.priority;
    document.getElementById("f-dv").checked = draft.needs.dv_specialised;
    document.getElementById("f-secure").checked = draft.needs.secure;
    document.getElementById("f-wheelchair").checked = draft.needs.wheelchair;
    document.getElementById("f-pets").checked = draft.needs.pets;
    document.getElementById("f-language").value = draft.needs.language;
    document.getElementById("f-lat").value = draft.lat;
    document.getElementById("f-lon").value = draft.lon;
    document.getElementById("f-maxkm").value = draft.max_km;
    var amend = draft.mode === "amend";
    document.getElementById("form-title").textContent = amend ? t("form_amend", { ref: draft.reference }) : t("form_new");
    document.getElementById("submit-request").textContent = amend ? t("submit_amend") : t("submit_new");
    document.getElementById("reset-form").textContent = amend ? t("stop_amend") : t("reset_form");
    renderMembers(); renderZones(); renderPickers(); drawMap(); showSending();
  }

  function showSending() {
    var note = document.getElementById("draft-note");
    var sending = !!draft.sending;
    document.getElementById("form-body").disabled = sending;
    note.hidden = !sending;
    note.textContent = sending ? t("sending_when_back") : "";
  }

  function wireForm() {
    var simple = {
      "f-reference": function (v) { draft.reference = v; },
      "f-priority": function (v) { draft.priority = v; },
      "f-language": function (v) { draft.needs.language = v; },
      "f-lat": function (v) { draft.lat = v; },
      "f-lon": function (v) { draft.lon = v; },
      "f-maxkm": function (v) { draft.max_km = v; },
    };
    Object.keys(simple).forEach(function (id) {
      var input = document.getElementById(id);
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", function () { simple[id](input.value); save(); drawMap(); });
    });
    [["f-dv", "dv_specialised"], ["f-secure", "secure"], ["f-wheelchair", "wheelchair"], ["f-pets", "pets"]].forEach(function (pair) {
      var box = document.getElementById(pair[0]);
      box.addEventListener("change", function () { draft.needs[pair[1]] = box.checked; save(); });
    });
    document.getElementById("f-commune").addEventListener("change", function (event) {
      if (!event.target.value) return;
      var ll = event.target.value.split(",");
      draft.lat = ll[0]; draft.lon = ll[1];
      document.getElementById("f-lat").value = ll[0];
      document.getElementById("f-lon").value = ll[1];
      save(); drawMap();
    });
    document.getElementById("add-member").addEventListener("click", addMember);
    document.getElementById("add-zone").addEventListener("click", function () {
      draft.avoid.push({ lat: draft.lat, lon: draft.lon, km: document.getElementById("f-zone-km").value || "10" });
      save(); renderZones(); drawMap();
      document.getElementById("z-lat-" + (draft.avoid.length - 1)).focus();
    });
    document.getElementById("add-excluded").addEventListener("click", function () {
      var v = document.getElementById("f-exclude-pick").value;
      if (v && draft.excluded.indexOf(v) < 0) { draft.excluded.push(v); save(); renderChips(); }
    });
    document.getElementById("add-keep").addEventListener("click", function () {
      var v = document.getElementById("f-keep-pick").value;
      if (!v) return;
      draft.keep.push({ request_id: v, km: document.getElementById("f-keep-km").value || "20" });
      save(); renderChips();
    });
    document.getElementById("reset-form").addEventListener("click", function () {
      draft = emptyDraft(); save(); clearErrors(); fillForm();
      document.getElementById("f-reference").focus();
    });
    document.getElementById("request-form").addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
  }

  // --- submitting: one Idempotency-Key per submission, kept until the server answered ---
  var inFlight = false;
  function submit() {
    var b = JSON.stringify(body());
    if (!draft.sending || draft.sending.body !== b) {
      draft.sending = {
        key: A.newKey(), body: b,
        method: draft.mode === "amend" ? "PATCH" : "POST",
        // The territory it was typed for, named in the path (a national admin's choice).
        path: A.scoped(draft.mode === "amend" ? "/api/v1/requests/" + draft.id : "/api/v1/requests"),
        etag: draft.etag,
      };
    }
    save();
    showSending();
    send();
  }
  async function send() {
    if (!draft || !draft.sending || inFlight) return;
    inFlight = true;
    var s = draft.sending;
    var headers = { "Idempotency-Key": s.key };
    if (s.method === "PATCH") headers["If-Match"] = s.etag || "*";
    var resp = await A.api(s.method, s.path, { body: s.body, headers: headers });
    inFlight = false;
    if (resp.status === 0) { A.renderBanner(); return; } // kept; sent again when the server is back
    if (resp.ok) {
      var ref = resp.data.reference;
      draft = emptyDraft(); save(); clearErrors(); fillForm();
      A.notice(t(s.method === "PATCH" ? "amended_ok" : "created_ok", { ref: ref }));
      A.renderBanner();
      await refresh();
      return;
    }
    draft.sending = null; save(); showSending(); A.renderBanner();
    if (resp.status === 422 && resp.data && resp.data.errors) { showErrors(resp.data.errors); return; }
    clearErrors();
    A.notice(A.problemText(resp), "error");
    if (resp.status === 412 && draft.mode === "amend") {
      A.notice(t("changed_meanwhile"), "error");
      await startAmend(draft.id, true);
    }
  }

  // --- field errors, where the API's errors[].loc points ------------------------------
  function clearErrors() {
    document.querySelectorAll("#request-form .error").forEach(function (n) { n.remove(); });
    document.querySelectorAll("#request-form [aria-invalid]").forEach(function (n) {
      n.removeAttribute("aria-invalid");
      var ids = (n.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id && id.indexOf("err-") !== 0; });
      if (ids.length) n.setAttribute("aria-describedby", ids.join(" ")); else n.removeAttribute("aria-describedby");
    });
    var box = document.getElementById("form-errors");
    box.hidden = true; box.replaceChildren();
  }
  function targetFor(loc) {
    var parts = loc.filter(function (p) { return p !== "body"; }).map(String);
    for (var n = parts.length; n > 0; n--) {
      var node = document.querySelector('#request-form [data-loc="' + parts.slice(0, n).join(".") + '"]');
      if (node) return node;
    }
    return document.getElementById("f-reference");
  }
  function fieldName(node) {
    if (node.tagName === "FIELDSET") return node.querySelector("legend").textContent;
    var label = node.id && document.querySelector('label[for="' + node.id + '"]');
    return label ? label.textContent : (node.closest("[aria-label]") || node).getAttribute("aria-label") || "";
  }
  function showErrors(errors) {
    clearErrors();
    var box = document.getElementById("form-errors");
    var list = el("ul");
    errors.forEach(function (e, i) {
      var node = targetFor(e.loc || []);
      var id = "err-" + i;
      var msg = el("p", { class: "error", id: id, "data-testid": "field-error", "data-loc": null, text: e.msg });
      if (node.tagName === "FIELDSET") node.insertBefore(msg, node.querySelector("legend").nextSibling);
      else node.parentNode.appendChild(msg);
      node.setAttribute("aria-invalid", "true");
      node.setAttribute("aria-describedby", ((node.getAttribute("aria-describedby") || "") + " " + id).trim());
      var name = fieldName(node) + (node.closest(".member") ? " (" + node.closest(".member").getAttribute("aria-label") + ")" : "");
      list.appendChild(el("li", {}, [el("button", {
        type: "button", class: "link", text: name + " : " + e.msg,
        onclick: function () { (node.tagName === "FIELDSET" ? node.querySelector("input, select, button") : node).focus(); },
      })]));
    });
    box.appendChild(el("p", { text: t("form_has_errors", { n: errors.length }) }));
    box.appendChild(list);
    box.hidden = false;
    box.focus();
  }

  async function startAmend(id, keepNotice) {
    var gen = S.gen;
    var resp = await A.api("GET", "/api/v1/requests/" + id);
    if (gen !== S.gen) return;
    if (!resp.ok) { A.notice(A.problemText(resp), "error"); return; }
    var r = resp.data;
    draft = {
      mode: "amend", id: r.id, etag: resp.etag, reference: r.reference, priority: String(r.priority),
      members: r.members.map(function (m) { return { age: String(m.age), sex: m.sex }; }),
      needs: { dv_specialised: r.needs.dv_specialised, secure: r.needs.secure, wheelchair: r.needs.wheelchair, pets: r.needs.pets, language: r.needs.language || "" },
      lat: r.origin ? String(r.origin.lat) : "", lon: r.origin ? String(r.origin.lon) : "",
      max_km: r.max_km === null ? "" : String(r.max_km),
      avoid: r.avoid.map(function (z) { return { lat: String(z.lat), lon: String(z.lon), km: String(z.km) }; }),
      excluded: r.excluded_shelters.slice(),
      keep: r.keep_apart.map(function (k) { return { request_id: k.request_id, km: String(k.km) }; }),
      sending: null,
    };
    save(); clearErrors(); fillForm();
    if (!keepNotice) A.notice("");
    document.getElementById("f-reference").focus();
  }

  // --- start and stop -----------------------------------------------------------------
  function start() {
    S.gen += 1;
    clearData();
    delete document.body.dataset.loaded;
    document.getElementById("options").hidden = true;
    document.getElementById("plan-body").replaceChildren();
    clearErrors();
    draft = A.loadDraft("draft") || emptyDraft();
    S.map = window.AbriMap.create(document.getElementById("request-map"), {
      shelters: function () { return S.shelters; },
      title: function () { return t("map_title"); },
      onPick: pickOnMap,
    });
    fillForm();
    refresh().then(function () { send(); schedule(); });
    S.ticker = setInterval(tickCountdowns, 1000);
  }
  function stop() {
    clearTimeout(S.timer);
    clearInterval(S.ticker);
  }

  function init() {
    wireForm();
    document.getElementById("run-allocation").addEventListener("click", runAllocation);
    document.getElementById("decline-form").addEventListener("submit", confirmDecline);
    document.getElementById("decline-cancel").addEventListener("click", function () { document.getElementById("decline-dialog").close(); });
    A.onOnline(function () { send(); refresh(); });
    A.onLang(function () { if (draft) { fillForm(); renderAll(); } });
    A.init({
      app: "console", roles: ["operator", "admin"], start: start, stop: stop,
      queuedCount: function () { return draft && draft.sending ? 1 : 0; },
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
