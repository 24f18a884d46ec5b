/* Abri night-duty dashboard: polls one JSON document and draws it. No framework, no build. */
(function () {
  "use strict";

  var API = "/api/v1/dashboard/summary";
  var TOKEN_KEY = "abri.dashboard.token";
  var LANG_KEY = "abri.dashboard.lang";
  var THEME_KEY = "abri.dashboard.theme";
  var KINDS = ["chu", "chrs", "dv_shelter", "mother_child", "hotel"];
  var SVG_NS = "http://www.w3.org/2000/svg";

  var params = new URLSearchParams(window.location.search);
  // ?interval=N (seconds) lets tests poll faster; 15 s otherwise.
  var intervalS = Math.min(Math.max(Number(params.get("interval")) || 15, 1), 300);

  var state = {
    data: null,
    etag: null,
    lastDataAt: null, // when the document shown was received
    lastCheckAt: null, // when the server last answered
    failingSince: null,
    problem: null, // {kind, status}
    timer: null,
    inFlight: false,
    lang: "fr",
    me: null, // GET /me, once per token
    territories: [], // a national admin's (GET /territories)
    territory: null, // the code its polls name (?territory=): national admin only
  };

  // --- token: from the form, or from #token= (a URL fragment never reaches a server, so
  // no log or proxy sees it), into this tab's sessionStorage, then out of the URL. A
  // ?token= in the query string is never used: the server's logs would have it.
  var tokenInQuery = false;
  (function takeTokenFromUrl() {
    var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var token = fragment.get("token");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      fragment.delete("token");
    }
    tokenInQuery = params.has("token");
    params.delete("token");
    if (token || tokenInQuery) {
      var query = params.toString();
      var rest = fragment.toString();
      var url = window.location.pathname + (query ? "?" + query : "") + (rest ? "#" + rest : "");
      window.history.replaceState(null, "", url);
    }
  })();

  function getToken() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // --- i18n ---------------------------------------------------------------------------
  function pickLang() {
    var saved = localStorage.getItem(LANG_KEY);
    if (saved === "fr" || saved === "en") return saved;
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "fr";
    return nav.toLowerCase().indexOf("fr") === 0 ? "fr" : "en";
  }

  function t(key, vars) {
    var dict = window.ABRI_I18N[state.lang] || window.ABRI_I18N.fr;
    var text = dict[key];
    if (text === undefined) text = window.ABRI_I18N.en[key] !== undefined ? window.ABRI_I18N.en[key] : key;
    if (vars) {
      Object.keys(vars).forEach(function (name) {
        text = text.split("{" + name + "}").join(String(vars[name]));
      });
    }
    return text;
  }

  function applyStaticStrings() {
    document.documentElement.lang = state.lang;
    document.title = "Abri — " + t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.getElementById("map-legend").setAttribute("aria-label", t("legend"));
    var toggle = document.getElementById("lang-toggle");
    var other = state.lang === "fr" ? "en" : "fr";
    toggle.textContent = other === "en" ? "English" : "Français";
    toggle.setAttribute("lang", other);
  }

  // --- formatting ---------------------------------------------------------------------
  function locale() {
    return state.lang === "fr" ? "fr-FR" : "en-GB";
  }

  function fmtTime(value, seconds) {
    if (!value) return "—";
    var d = value instanceof Date ? value : new Date(value);
    var opts = { hour: "2-digit", minute: "2-digit", hour12: false };
    if (seconds) opts.second = "2-digit";
    return new Intl.DateTimeFormat(locale(), opts).format(d);
  }

  function fmtNumber(n, digits) {
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits || 0 }).format(n);
  }

  function fmtDuration(minutes) {
    if (minutes === null || minutes === undefined) return "—";
    var m = Math.max(0, Math.floor(minutes));
    if (m < 60) return t("minutes_short", { m: m });
    var h = Math.floor(m / 60);
    if (h < 24) return t("hours_minutes", { h: h, m: String(m % 60).padStart(2, "0") });
    return t("days_hours", { d: Math.floor(h / 24), h: h % 24 });
  }

  function priorityLabel(p) {
    return p ? t("p" + p) : "—";
  }

  // --- DOM helpers --------------------------------------------------------------------
  // Text only (never innerHTML): shelter names and the engine's sentences come from the database.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] === null || attrs[name] === undefined || attrs[name] === false) return;
        if (name === "text") node.textContent = attrs[name];
        else node.setAttribute(name, attrs[name]);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function fillBody(tableId, rows, emptyText) {
    var table = document.getElementById(tableId);
    var body = table.tBodies[0];
    body.replaceChildren();
    if (!rows.length && emptyText) {
      var cols = table.tHead.rows[0].cells.length;
      body.appendChild(el("tr", { class: "empty" }, [el("td", { colspan: cols, text: emptyText })]));
      return;
    }
    rows.forEach(function (row) {
      body.appendChild(row);
    });
  }

  function td(text, cls, attrs) {
    var a = Object.assign({ text: text === null || text === undefined ? "—" : String(text) }, attrs || {});
    if (cls) a.class = cls;
    return el("td", a);
  }

  function priorityCell(p) {
    return el("td", {}, [el("span", { class: "prio prio-" + p, text: priorityLabel(p) })]);
  }

  function badge(freshness) {
    var icon = { fresh: "●", ageing: "◐", stale: "○" }[freshness] || "";
    return el("span", { class: "badge " + freshness }, [
      el("span", { "aria-hidden": "true", text: icon + " " }),
      t(freshness),
    ]);
  }

  function composition(r) {
    var parts = [];
    if (r.adults) parts.push(t("adults", { n: r.adults }));
    if (r.children) parts.push(t("children", { n: r.children }));
    if (r.infants) parts.push(t("infants", { n: r.infants }));
    return parts.join(", ") || "—";
  }

  function shortReason(code) {
    var key = "short_" + code;
    return t(key) === key ? code : t(key);
  }

  function reasonText(code) {
    var key = "reason_" + code;
    var text = t(key);
    return text === key ? code : text;
  }

  // --- rendering ----------------------------------------------------------------------
  function renderTiles(d) {
    var cap = d.capacity;
    var expiringSoon = d.expiring_holds.length;
    var tiles = [
      { id: "free-beds", value: cap.totals.free_beds, label: t("tile_free_beds"), cls: "primary" },
      { id: "private-rooms", value: cap.totals.free_private_rooms, label: t("tile_private_rooms") },
      { id: "shared-women", value: cap.shared_beds.women, label: t("tile_shared_women") },
      { id: "shared-men", value: cap.shared_beds.men, label: t("tile_shared_men") },
      { id: "cribs", value: cap.totals.free_cribs, label: t("tile_cribs") },
      {
        id: "waiting",
        value: d.waiting.requests,
        label: t("tile_waiting"),
        sub: t("tile_waiting_people", { n: d.waiting.people }),
        cls: d.waiting.requests ? "warn" : "",
      },
      {
        id: "holds",
        value: d.holds_total,
        label: t("tile_holds"),
        sub: expiringSoon
          ? t("tile_holds_expiring", { n: expiringSoon, m: d.settings.expiring_within_minutes })
          : null,
        cls: expiringSoon ? "warn" : "",
      },
      {
        id: "stale",
        value: d.freshness.counts.stale,
        label: t("tile_stale"),
        cls: d.freshness.counts.stale ? "alert" : "",
      },
    ];
    var list = document.getElementById("tiles");
    list.replaceChildren();
    tiles.forEach(function (tile) {
      list.appendChild(
        el("li", { class: "tile " + (tile.cls || "") }, [
          el("span", { class: "value", "data-testid": "tile-" + tile.id, text: fmtNumber(tile.value) }),
          el("span", { class: "label", text: tile.label }),
          tile.sub ? el("span", { class: "sub", text: tile.sub }) : null,
        ])
      );
    });
  }

  function renderWaiting(d) {
    fillBody(
      "waiting-by-priority",
      d.waiting.by_priority.map(function (p) {
        return el("tr", {}, [
          priorityCell(p.priority),
          td(fmtNumber(p.requests), "num", { "data-testid": "waiting-p" + p.priority }),
          td(fmtNumber(p.people), "num"),
          td(p.longest_wait_minutes === null ? "—" : fmtDuration(p.longest_wait_minutes), "num"),
        ]);
      })
    );
    var rows = d.waiting.longest_first.map(function (r) {
      // The short reason here; the engine's full sentence is in the latest plan.
      var result = r.unplaced_code ? td(shortReason(r.unplaced_code)) : td("—");
      return el("tr", { "data-request-id": r.request_id }, [
        el("td", { title: fmtTime(r.waiting_since), text: fmtDuration(r.waiting_minutes) }),
        priorityCell(r.priority),
        td(t("people_n", { n: r.household_size }), "num"),
        td(composition(r)),
        result,
      ]);
    });
    var extra = d.waiting.requests - d.waiting.longest_first.length;
    if (extra > 0) {
      rows.push(el("tr", { class: "empty" }, [el("td", { colspan: 5, text: t("more_waiting", { n: extra }) })]));
    }
    fillBody("waiting-list", rows, t("none_waiting"));
  }

  function renderPlan(d) {
    var run = d.latest_run;
    var facts = document.getElementById("plan-facts");
    var none = document.getElementById("plan-none");
    facts.replaceChildren();
    none.hidden = !!run;
    document.getElementById("plan-by-priority").hidden = !run;
    document.getElementById("unplaced").hidden = !run;
    if (!run) return;

    function fact(label, value, attrs) {
      facts.appendChild(el("div", { class: "fact" }, [el("dt", { text: label }), el("dd", Object.assign({ text: value }, attrs || {}))]));
    }
    fact(t("run_started"), fmtTime(run.started_at, true), { "data-testid": "run-started", title: run.started_at });
    var statusKey = "status_" + run.status;
    fact(t("run_status"), t(statusKey) === statusKey ? run.status : t(statusKey), { class: "status-" + run.status });
    fact(t("run_placed"), fmtNumber(run.people_placed), { "data-testid": "run-placed" });
    fact(t("run_proposals"), fmtNumber(run.proposals));
    fact(t("run_km"), run.total_km === null ? "—" : fmtNumber(run.total_km, 1) + " km", { "data-testid": "run-km" });
    fact(t("run_considered"), t("run_considered_value", { r: run.requests_considered, c: run.rooms_considered }));
    if (run.finished_at) {
      var secs = (new Date(run.finished_at) - new Date(run.started_at)) / 1000;
      fact(t("run_duration"), fmtNumber(secs, 1) + " s");
    }
    fact(t("run_id"), run.id, { "data-testid": "run-id", class: "mono" });
    if (run.error) fact(t("run_error"), run.error);

    fillBody(
      "plan-by-priority",
      ["4", "3", "2", "1"].map(function (p) {
        var placed = run.people_placed_by_priority[p] || 0;
        var bound = run.bound_by_priority ? run.bound_by_priority[p] : null;
        return el("tr", {}, [
          priorityCell(Number(p)),
          td(fmtNumber(placed), "num", { "data-testid": "run-placed-p" + p }),
          td(bound === null || bound === undefined ? "—" : fmtNumber(bound), "num"),
        ]);
      })
    );
    fillBody(
      "unplaced",
      run.unplaced.map(function (u) {
        // A viewer's document has no request id (nothing joins a household to a shelter).
        return el("tr", { "data-code": u.code, "data-request-id": u.request_id }, [
          priorityCell(u.priority),
          td(u.household_size ? t("people_n", { n: u.household_size }) : "—", "num"),
          el("td", {}, [
            el("span", { class: "reason", text: reasonText(u.code) }),
            u.detail ? el("span", { class: "detail", lang: "en", text: u.detail }) : null,
          ]),
        ]);
      }),
      t("none_unplaced")
    );
  }

  function renderCapacity(d) {
    fillBody(
      "capacity-by-size",
      d.capacity.by_size.map(function (s) {
        return el("tr", {}, [
          el("th", { scope: "row", text: t("size_" + s.size_class) }),
          td(fmtNumber(s.rooms), "num", { "data-testid": "size-" + s.size_class }),
          td(fmtNumber(s.beds), "num"),
          td(fmtNumber(s.cribs), "num"),
        ]);
      })
    );
    fillBody(
      "capacity-by-kind",
      d.capacity.by_kind.map(function (k) {
        return el("tr", {}, [
          el("th", { scope: "row" }, [el("span", { class: "swatch k-" + k.kind, "aria-hidden": "true" }), kindLabel(k.kind)]),
          td(fmtNumber(k.shelters), "num"),
          td(fmtNumber(k.free_private_rooms), "num"),
          td(fmtNumber(k.free_shared_beds), "num"),
          td(fmtNumber(k.free_beds), "num", { "data-testid": "kind-" + k.kind }),
        ]);
      })
    );
  }

  function kindLabel(kind) {
    var key = "kind_" + kind;
    return t(key) === key ? kind : t(key);
  }

  function renderHolds(d) {
    fillBody(
      "holds",
      d.expiring_holds.map(function (h) {
        var when = h.minutes_left < 0 ? t("expired") : t("in_minutes", { m: h.minutes_left });
        return el("tr", { class: h.minutes_left < 10 ? "urgent" : "" }, [
          el("td", { title: h.expires_at }, [fmtTime(h.expires_at) + " · " + when]),
          td(h.shelter_name || t("confidential_shelter")),
          priorityCell(h.priority),
          td(t("people_n", { n: h.household_size }), "num"),
        ]);
      }),
      t("none_holds", { m: d.settings.expiring_within_minutes })
    );
    fillBody(
      "arrivals",
      d.arrivals.map(function (a) {
        return el("tr", {}, [
          td(fmtTime(a.accepted_at)),
          td(a.shelter_name || t("confidential_shelter")),
          priorityCell(a.priority),
          td(t("people_n", { n: a.household_size }), "num"),
          td(a.km === undefined || a.km === null ? "—" : fmtNumber(a.km, 1), "num"),
        ]);
      }),
      t("none_arrivals")
    );
  }

  function renderFreshness(d) {
    var c = d.freshness.counts;
    document.getElementById("fresh-counts").textContent = t("fresh_counts", {
      fresh: c.fresh,
      ageing: c.ageing,
      stale: c.stale,
      a: fmtNumber(d.settings.availability_ageing_hours, 1),
      b: fmtNumber(d.settings.availability_stale_hours, 1),
    });
    var stale = d.freshness.stale;
    var staleList = document.getElementById("stale-list");
    staleList.textContent = stale.length
      ? t("stale_list", {
          names: stale
            .map(function (s) { return s.name + " (" + s.commune + ")"; })
            .join(", "),
        })
      : t("stale_none");
    staleList.classList.toggle("has-stale", stale.length > 0);
    fillBody(
      "freshness",
      d.freshness.shelters.map(function (s) {
        var updated = s.availability_updated_at
          ? fmtTime(s.availability_updated_at) + " (" + t("ago", { d: fmtDuration(s.age_minutes) }) + ")"
          : t("never");
        return el("tr", { "data-shelter-id": s.shelter_id, class: "row-" + s.freshness }, [
          el("th", { scope: "row", text: s.name }),
          td(s.commune),
          el("td", {}, [badge(s.freshness)]),
          td(updated),
          td(fmtNumber(s.free_beds), "num"),
        ]);
      }),
      t("none_shelters")
    );
  }

  // Equirectangular projection fitted to the points' bounding box.
  function renderMap(d) {
    var box = document.getElementById("map");
    box.replaceChildren();
    var points = d.map.shelters;
    if (!points.length || !d.map.bounds) {
      box.appendChild(el("p", { class: "muted", text: t("map_empty") }));
      renderLegend();
      return;
    }
    var b = d.map.bounds;
    var pad = 0.03; // degrees around the outermost points
    var minLat = b.min_lat - pad, maxLat = b.max_lat + pad;
    var minLon = b.min_lon - pad, maxLon = b.max_lon + pad;
    var midLat = ((minLat + maxLat) / 2) * (Math.PI / 180);
    var kx = Math.cos(midLat);
    var spanX = (maxLon - minLon) * kx, spanY = maxLat - minLat;
    var W = 640, margin = 24;
    var scale = (W - 2 * margin) / spanX;
    var H = Math.round(Math.min(Math.max(spanY * scale + 2 * margin, 260), 560));
    scale = Math.min(scale, (H - 2 * margin) / spanY);
    var offX = (W - spanX * scale) / 2, offY = (H - spanY * scale) / 2;
    function x(lon) { return offX + (lon - minLon) * kx * scale; }
    function y(lat) { return offY + (maxLat - lat) * scale; }

    var total = points.reduce(function (n, p) { return n + p.free_beds; }, 0);
    var title = t("map_label", { n: points.length });
    var root = svg("svg", {
      viewBox: "0 0 " + W + " " + H,
      role: "img",
      "aria-labelledby": "map-svg-title",
      class: "map-svg",
      "data-testid": "map-svg",
    });
    root.appendChild(svg("title", { id: "map-svg-title" }, [title + " (" + total + ")"]));
    root.appendChild(svg("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }));

    // A light graticule every 0.1 degree, for a sense of distance.
    var grid = svg("g", { class: "graticule", "aria-hidden": "true" });
    for (var lo = Math.ceil(minLon * 10) / 10; lo <= maxLon; lo += 0.1) {
      grid.appendChild(svg("line", { x1: x(lo), x2: x(lo), y1: 0, y2: H }));
    }
    for (var la = Math.ceil(minLat * 10) / 10; la <= maxLat; la += 0.1) {
      grid.appendChild(svg("line", { x1: 0, x2: W, y1: y(la), y2: y(la) }));
    }
    root.appendChild(grid);

    // Scale bar: 10 km (1 degree of latitude is 111.32 km).
    var barKm = 10, barPx = (barKm / 111.32) * scale;
    root.appendChild(
      svg("g", { class: "scalebar", "aria-hidden": "true" }, [
        svg("line", { x1: 12, x2: 12 + barPx, y1: H - 14, y2: H - 14 }),
        svg("text", { x: 12, y: H - 20 }, [t("scale", { km: barKm })]),
      ])
    );

    // Largest first so that small dots stay visible on top.
    var sorted = points.slice().sort(function (a, c) { return c.free_beds - a.free_beds; });
    var dots = svg("g", { class: "dots" });
    sorted.forEach(function (p) {
      var r = p.free_beds > 0 ? Math.min(4 + 2.2 * Math.sqrt(p.free_beds), 20) : 3.5;
      var label = t("map_point", { name: p.name, kind: kindLabel(p.kind), commune: p.commune, beds: p.free_beds }) +
        (p.position_rounded ? " (" + t("approximate") + ")" : "");
      var g = svg("g", { class: "dot k-" + p.kind + (p.free_beds ? "" : " full") + (p.position_rounded ? " rounded" : ""), "data-shelter-id": p.shelter_id });
      g.appendChild(svg("title", {}, [label]));
      if (p.position_rounded) {
        g.appendChild(svg("circle", { cx: x(p.lon), cy: y(p.lat), r: r + 5, class: "halo" }));
      }
      g.appendChild(svg("circle", { cx: x(p.lon), cy: y(p.lat), r: r }));
      dots.appendChild(g);
    });
    root.appendChild(dots);
    box.appendChild(root);
    renderLegend();
  }

  function renderLegend() {
    var legend = document.getElementById("map-legend");
    legend.replaceChildren();
    KINDS.forEach(function (kind) {
      legend.appendChild(el("li", {}, [el("span", { class: "swatch k-" + kind, "aria-hidden": "true" }), kindLabel(kind)]));
    });
  }

  function render() {
    var d = state.data;
    if (!d) return;
    renderTiles(d);
    renderWaiting(d);
    renderPlan(d);
    renderCapacity(d);
    renderMap(d);
    renderHolds(d);
    renderFreshness(d);
    document.getElementById("board").hidden = false;
  }

  // --- status and banner --------------------------------------------------------------
  function renderStatus() {
    var status = document.getElementById("refresh-status");
    // The time of the last successful check: a 304 is as good as a new document.
    status.textContent = state.lastCheckAt ? t("refreshed_at", { time: fmtTime(state.lastCheckAt, true) }) : t("loading");
    status.setAttribute("data-refreshed-at", state.lastCheckAt ? state.lastCheckAt.toISOString() : "");

    var banner = document.getElementById("banner");
    var p = state.problem;
    document.body.classList.toggle("degraded", !!p);
    if (!p) {
      banner.hidden = true;
      banner.replaceChildren();
      banner.removeAttribute("data-kind");
      return;
    }
    var text;
    if (p.kind === "offline") {
      text = state.lastDataAt
        ? t("banner_offline", { time: fmtTime(state.failingSince, true), time2: fmtTime(state.lastDataAt, true), s: intervalS })
        : t("banner_offline_never", { s: intervalS });
    } else if (p.kind === "token_in_query") {
      text = t("banner_token_in_query");
    } else if (p.kind === "refused") {
      text = t("banner_refused", { status: p.status });
    } else if (p.kind === "forbidden") {
      text = t("banner_forbidden", { status: p.status });
    } else {
      text = t("banner_error", { status: p.status, s: intervalS });
    }
    banner.replaceChildren(el("span", { text: text }));
    banner.setAttribute("data-kind", p.kind);
    banner.hidden = false;
  }

  function showLogin(show) {
    document.getElementById("login").hidden = !show;
    if (show) {
      document.getElementById("token-input").focus();
    }
  }

  // --- a national admin's territory: a labelled select, the choice in the address ---------
  function territoryToUrl(code) {
    var query = new URLSearchParams(window.location.search);
    if (code) query.set("territory", code); else query.delete("territory");
    var q = query.toString();
    window.history.replaceState(null, "", window.location.pathname + (q ? "?" + q : "") + window.location.hash);
  }

  function renderPicker() {
    var select = document.getElementById("territory-pick");
    select.replaceChildren();
    state.territories.forEach(function (x) {
      select.appendChild(el("option", { value: x.code, text: x.code + " · " + x.name }));
    });
    if (state.territory) select.value = state.territory;
    document.getElementById("territory-box").hidden = !state.territory;
  }

  function setTerritories(me, territories) {
    state.me = me;
    state.territories = me.national ? territories : [];
    var wanted = new URLSearchParams(window.location.search).get("territory");
    var known = state.territories.some(function (x) { return x.code === wanted; });
    state.territory = known ? wanted : (state.territories[0] ? state.territories[0].code : null);
    if (me.national) territoryToUrl(state.territory);
    renderPicker();
  }

  function forgetWho() {
    state.me = null;
    state.territories = [];
    state.territory = null;
    renderPicker();
  }

  function chooseTerritory(code) {
    if (!code || code === state.territory) return;
    state.territory = code;
    territoryToUrl(code);
    // Nothing of the territory shown before stays on screen as if it were this one's.
    state.data = null;
    state.etag = null;
    state.lastDataAt = state.lastCheckAt = null;
    document.getElementById("board").hidden = true;
    renderStatus();
    poll();
  }

  // Who the token is, once: a national admin's dashboard names a territory. A failed
  // answer is returned (the caller shows it as it would the summary's), else null.
  async function whoAmI(headers) {
    var resp = await fetch("/api/v1/me", { headers: headers, cache: "no-store", credentials: "omit" });
    if (resp.status !== 200) return resp;
    var me = await resp.json();
    var territories = [];
    if (me.national) {
      var listed = await fetch("/api/v1/territories", { headers: headers, cache: "no-store", credentials: "omit" });
      if (listed.status !== 200) return listed;
      territories = await listed.json();
    }
    setTerritories(me, territories);
    return null;
  }

  function summaryUrl() {
    return state.territory ? API + "?territory=" + encodeURIComponent(state.territory) : API;
  }

  // --- polling ------------------------------------------------------------------------
  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, intervalS * 1000);
  }

  async function poll() {
    clearTimeout(state.timer);
    var token = getToken();
    if (!token) {
      showLogin(true);
      renderStatus();
      return;
    }
    if (state.inFlight) return;
    state.inFlight = true;
    var headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    var resp, stale = false;
    try {
      resp = state.me ? null : await whoAmI(headers);
      if (!resp) {
        var asked = state.territory;
        if (state.etag) headers["If-None-Match"] = state.etag;
        // no-store: the 304 comes back to us as it is, the browser cache stays out of it.
        resp = await fetch(summaryUrl(), { headers: headers, cache: "no-store", credentials: "omit" });
        stale = asked !== state.territory; // the picker moved meanwhile: this answer is not shown
      }
      if (resp.status === 200 && !stale) {
        var data = await resp.json();
        state.data = data;
        state.etag = resp.headers.get("ETag");
        state.lastDataAt = new Date();
        render();
      }
    } catch (err) {
      resp = null;
    } finally {
      state.inFlight = false;
    }
    if (stale) {
      poll();
      return;
    }

    if (!resp) {
      if (!state.failingSince) state.failingSince = new Date();
      state.problem = { kind: "offline" };
      schedule();
    } else if (resp.status === 200 || resp.status === 304) {
      state.lastCheckAt = resp.status === 200 ? state.lastDataAt : new Date();
      state.failingSince = null;
      state.problem = null;
      showLogin(false);
      schedule();
    } else if (resp.status === 401 || resp.status === 403) {
      // A refused token will not start working by itself: ask for another, stop polling.
      state.problem = { kind: resp.status === 401 ? "refused" : "forbidden", status: resp.status };
      state.etag = null;
      forgetWho();
      showLogin(true);
    } else {
      if (!state.failingSince) state.failingSince = new Date();
      state.problem = { kind: "error", status: resp.status };
      schedule();
    }
    renderStatus();
  }

  // --- controls -----------------------------------------------------------------------
  function applyTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    document.getElementById("theme-toggle").setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
  }

  function init() {
    state.lang = pickLang();
    applyStaticStrings();
    var savedTheme = localStorage.getItem(THEME_KEY);
    var dark = savedTheme ? savedTheme === "dark" : window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    applyTheme(dark ? "dark" : "light");

    document.getElementById("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "fr" ? "en" : "fr";
      localStorage.setItem(LANG_KEY, state.lang);
      applyStaticStrings();
      render();
      renderStatus();
    });
    document.getElementById("theme-toggle").addEventListener("click", function () {
      var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
      localStorage.setItem(THEME_KEY, next);
      applyTheme(next);
    });
    var picker = document.getElementById("territory-pick");
    picker.addEventListener("change", function () { chooseTerritory(picker.value); });
    document.getElementById("refresh-now").addEventListener("click", function () {
      poll();
    });
    document.getElementById("sign-out").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      clearTimeout(state.timer);
      forgetWho();
      state.data = null;
      state.etag = null;
      state.lastDataAt = state.lastCheckAt = null;
      state.problem = null;
      document.getElementById("board").hidden = true;
      renderStatus();
      showLogin(true);
    });
    document.getElementById("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("token-input");
      var value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      input.value = "";
      forgetWho();
      state.etag = null;
      state.problem = null;
      poll();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && getToken() && !state.problem) poll();
    });
    if (tokenInQuery) state.problem = { kind: "token_in_query" };
    renderStatus();
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
