/* Shared by the console and the shelter screen: token, language, theme, API calls, the
 * offline banner and the drafts kept in sessionStorage. No framework, no build, no CDN. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var LANG_KEY = "abri.screens.lang";
  var THEME_KEY = "abri.screens.theme";
  var HEARTBEAT_MS = 3000;

  var state = {
    app: null, // "console" | "shelter"
    lang: "fr",
    me: null,
    online: true,
    heartbeat: null,
    onlineListeners: [],
    langListeners: [],
    territories: [], // a national admin's choice of territories (GET /territories)
    territory: null, // the code every API call carries (?territory=): national admin only
  };

  function tokenKey() { return "abri." + state.app + ".token"; }
  function getToken() { return sessionStorage.getItem(tokenKey()); }

  // --- i18n ---------------------------------------------------------------------------
  function pickLang() {
    var saved = localStorage.getItem(LANG_KEY);
    if (saved === "fr" || saved === "en") return saved;
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "fr";
    return nav.toLowerCase().indexOf("fr") === 0 ? "fr" : "en";
  }

  function t(key, vars) {
    var all = window.ABRI_SCREENS_I18N;
    var text = all[state.lang][key];
    if (text === undefined) text = all.en[key] !== undefined ? all.en[key] : key;
    Object.keys(vars || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(vars[name]));
    });
    return text;
  }
  function has(key) { return window.ABRI_SCREENS_I18N[state.lang][key] !== undefined; }

  function applyStaticStrings() {
    document.documentElement.lang = state.lang;
    document.title = "Abri — " + t(state.app + "_title");
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-label")));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder")));
    });
    var toggle = document.getElementById("lang-toggle");
    var other = state.lang === "fr" ? "en" : "fr";
    toggle.textContent = other === "en" ? "English" : "Français";
    toggle.setAttribute("lang", other);
  }

  // --- formatting (times in the user's own zone: Intl's default) ---------------------
  function locale() { return state.lang === "fr" ? "fr-FR" : "en-GB"; }
  function fmtTime(value) {
    if (!value) return "—";
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(value));
  }
  function fmtDateTime(value) {
    if (!value) return "—";
    return new Intl.DateTimeFormat(locale(), {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false,
    }).format(new Date(value));
  }
  function fmtDuration(minutes) {
    var m = Math.max(0, Math.floor(minutes));
    if (m < 60) return t("minutes_short", { m: m });
    var h = Math.floor(m / 60);
    if (h < 24) return t("hours_minutes", { h: h, m: String(m % 60).padStart(2, "0") });
    return t("days_hours", { d: Math.floor(h / 24), h: h % 24 });
  }
  function since(value) { return fmtDuration((Date.now() - new Date(value).getTime()) / 60000); }
  function countdown(value) {
    var s = Math.round((new Date(value).getTime() - Date.now()) / 1000);
    if (s <= 0) return t("expired_now");
    var m = Math.floor(s / 60);
    return m >= 60 ? fmtDuration(m) : m + ":" + String(s % 60).padStart(2, "0");
  }
  function fmtKm(km) {
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(km) + " km";
  }
  function composition(members) {
    // "F 34 · M 9 · F 6": ages and sexes, the way the desk reads a household.
    return (members || []).map(function (m) { return t("sex_" + m.sex) + " " + m.age; }).join(" · ") || "—";
  }
  function needsText(needs) {
    var n = needs || {};
    var out = ["dv_specialised", "secure", "wheelchair", "pets"].filter(function (k) { return n[k]; })
      .map(function (k) { return t("need_" + k); });
    if (n.language) out.push(t("need_language", { code: n.language }));
    return out.join(", ") || t("no_needs");
  }
  function priorityLabel(p) { return t("p" + p); }

  // --- DOM helpers: text only (never innerHTML), names come from the database ---------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var v = attrs[name];
      if (v === null || v === undefined || v === false) return;
      if (name === "text") node.textContent = v;
      else if (name.indexOf("on") === 0) node.addEventListener(name.slice(2), v);
      else if (v === true) node.setAttribute(name, "");
      else node.setAttribute(name, v);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function fillBody(table, rows, emptyText) {
    var body = table.tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      var cols = table.tHead.rows[0].cells.length;
      body.appendChild(el("tr", { class: "empty" }, [el("td", { colspan: cols, text: emptyText })]));
      return;
    }
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function prioBadge(p) { return el("span", { class: "prio prio-" + p, text: priorityLabel(p) }); }

  // --- notices and the banner ---------------------------------------------------------
  function notice(text, kind) {
    var box = document.getElementById("notice");
    box.textContent = text;
    box.setAttribute("data-kind", kind || "ok");
    box.hidden = !text;
  }
  function renderBanner() {
    var banner = document.getElementById("banner");
    var queued = state.queuedCount ? state.queuedCount() : 0;
    if (!state.online) {
      banner.textContent = t("offline") + (queued ? " " + t("queued", { n: queued }) : "");
      banner.setAttribute("data-kind", "offline");
      banner.hidden = false;
    } else {
      banner.hidden = true;
      banner.removeAttribute("data-kind");
    }
  }
  function setOnline(online) {
    if (state.online === online) return;
    state.online = online;
    renderBanner();
    if (online) {
      clearInterval(state.heartbeat);
      state.heartbeat = null;
      state.onlineListeners.forEach(function (fn) { fn(); });
    } else if (!state.heartbeat) {
      // Ask the server every few seconds whether it is back; then the queue is sent.
      state.heartbeat = setInterval(function () {
        fetch("/healthz", { cache: "no-store" }).then(function (r) { if (r.ok) setOnline(true); }, function () {});
      }, HEARTBEAT_MS);
    }
  }

  // --- the API ------------------------------------------------------------------------
  // A national admin's calls name the territory it chose (?territory=CODE), every one of
  // them, unless the path names one already (a queued submission keeps its own).
  function scoped(path) {
    if (!state.territory || path.indexOf("/api/v1/") !== 0 || path.indexOf("/api/v1/territories") === 0) return path;
    if (/[?&]territory=/.test(path)) return path;
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "territory=" + encodeURIComponent(state.territory);
  }
  // Resolves {status, ok, data, etag}; status 0 means the server could not be reached.
  async function api(method, path, opts) {
    path = scoped(path);
    var o = opts || {};
    var headers = Object.assign({ Accept: "application/json" }, o.headers || {});
    var token = getToken();
    if (token) headers.Authorization = "Bearer " + token;
    var init = { method: method, headers: headers, cache: "no-store" };
    if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    }
    var resp;
    try {
      resp = await fetch(path, init);
    } catch (err) {
      setOnline(false);
      return { status: 0, ok: false, data: null, etag: null };
    }
    setOnline(true);
    var data = null;
    var text = await resp.text();
    if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
    if (resp.status === 401) signedOut(t("token_refused"));
    return { status: resp.status, ok: resp.ok, data: data, etag: resp.headers.get("ETag") };
  }
  function problemText(resp) {
    if (resp.status === 0) return t("offline");
    var d = resp.data || {};
    return (d.detail || d.title || t("http_error", { status: resp.status }));
  }
  function newKey() {
    // A UUID v4 from getRandomValues (randomUUID needs a secure context; a LAN http URL is not).
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // --- drafts: this tab only (sessionStorage), so a reload keeps them, a closed tab does not
  // A national admin keeps one draft per territory: a household typed for the Nord is never
  // sent to the Pas-de-Calais because the picker moved.
  function draftKey(name) {
    return "abri." + state.app + "." + (state.territory ? "t" + state.territory + "." : "") + name;
  }
  function loadDraft(name) {
    try { return JSON.parse(sessionStorage.getItem(draftKey(name)) || "null"); }
    catch (e) { return null; }
  }
  function saveDraft(name, value) {
    var key = draftKey(name);
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  }

  // --- the national admin's territory picker -------------------------------------------
  // Shown to a national admin only (a territory's token has its territory). The choice lives
  // in the address (?territory=CODE): a reload, a bookmark or a second tab keep it.
  function territoryFromUrl() { return new URLSearchParams(window.location.search).get("territory"); }
  function territoryToUrl(code) {
    var params = new URLSearchParams(window.location.search);
    if (code) params.set("territory", code); else params.delete("territory");
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
  }
  function territoryName(code) {
    var found = state.territories.filter(function (x) { return x.code === code; })[0];
    return found ? found.name + " (" + found.code + ")" : code;
  }
  function renderPicker() {
    var box = document.getElementById("territory-box");
    if (!box) return;
    var select = document.getElementById("territory-pick");
    box.hidden = !state.territory;
    select.replaceChildren();
    state.territories.forEach(function (x) {
      select.appendChild(el("option", { value: x.code, text: x.code + " · " + x.name }));
    });
    if (state.territory) select.value = state.territory;
  }
  // True when the screen may start; false when it may not (yet): retried, or signed out.
  async function loadTerritories(me) {
    state.territories = [];
    state.territory = null;
    if (!me.national || !document.getElementById("territory-box")) return true;
    var resp = await api("GET", "/api/v1/territories");
    if (resp.status === 0 || resp.status === 401) return false; // back online: signIn again
    if (!resp.ok) { notice(problemText(resp), "error"); setTimeout(signIn, 5000); return false; }
    state.territories = resp.data;
    if (!state.territories.length) { signedOut(t("no_territory")); return false; }
    var wanted = territoryFromUrl();
    var known = state.territories.some(function (x) { return x.code === wanted; });
    state.territory = known ? wanted : state.territories[0].code;
    territoryToUrl(state.territory);
    renderPicker();
    return true;
  }
  function chooseTerritory(code) {
    if (!code || code === state.territory) return;
    if (state.queuedCount && state.queuedCount()) {
      // The waiting submission belongs to the territory it was typed for.
      document.getElementById("territory-pick").value = state.territory;
      notice(t("territory_wait"), "error");
      return;
    }
    if (state.stop) state.stop();
    state.territory = code;
    territoryToUrl(code);
    renderWho();
    notice(t("territory_shown", { name: territoryName(code) }));
    state.start(state.me);
  }
  function renderWho() {
    var me = state.me;
    if (!me) return;
    var text = t("signed_in_as", { name: me.name, role: t("role_" + me.role) });
    if (state.territory) text += " · " + territoryName(state.territory);
    document.getElementById("who").textContent = text;
  }

  // --- sign-in --------------------------------------------------------------------------
  function signedOut(message) {
    sessionStorage.removeItem(tokenKey());
    state.me = null;
    state.territory = null;
    state.territories = [];
    renderPicker();
    if (state.stop) state.stop();
    document.getElementById("app").hidden = true;
    document.getElementById("who").textContent = "";
    document.getElementById("sign-out").hidden = true;
    var login = document.getElementById("login");
    login.hidden = false;
    var err = document.getElementById("login-error");
    err.textContent = message || "";
    err.hidden = !message;
    document.getElementById("token-input").focus();
  }
  async function signIn() {
    var resp = await api("GET", "/api/v1/me");
    if (resp.status === 0) return; // offline: the banner says so; retried when back
    if (resp.status === 401) return; // api() has already asked for another token
    if (!resp.ok) { // the server is up but failing (503…): say so, keep the token, retry
      notice(problemText(resp), "error");
      setTimeout(signIn, 5000);
      return;
    }
    var me = resp.data;
    if (state.roles.indexOf(me.role) < 0) {
      signedOut(t("wrong_role", { role: me.role }));
      return;
    }
    if (!(await loadTerritories(me))) return;
    state.me = me;
    document.getElementById("login").hidden = true;
    document.getElementById("app").hidden = false;
    renderWho();
    document.getElementById("sign-out").hidden = false;
    state.start(me);
  }

  function applyTheme(theme) {
    document.documentElement.setAttribute("data-theme", theme);
    document.getElementById("theme-toggle").setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
  }

  // opts: {app, roles, start(me), stop(), queuedCount()}
  function init(opts) {
    state.app = opts.app;
    state.roles = opts.roles;
    state.start = opts.start;
    state.stop = opts.stop;
    state.queuedCount = opts.queuedCount;
    state.lang = pickLang();
    applyStaticStrings();
    var saved = localStorage.getItem(THEME_KEY);
    var dark = saved ? saved === "dark" : !(window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches);
    applyTheme(dark ? "dark" : "light");
    document.getElementById("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "fr" ? "en" : "fr";
      localStorage.setItem(LANG_KEY, state.lang);
      applyStaticStrings();
      renderBanner();
      renderWho();
      state.langListeners.forEach(function (fn) { fn(); });
    });
    document.getElementById("theme-toggle").addEventListener("click", function () {
      var next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
      localStorage.setItem(THEME_KEY, next);
      applyTheme(next);
    });
    document.getElementById("sign-out").addEventListener("click", function () {
      // The next person at this desk sees nothing of the last one's drafts.
      Object.keys(sessionStorage).filter(function (k) { return k.indexOf("abri." + state.app + ".") === 0; })
        .forEach(function (k) { sessionStorage.removeItem(k); });
      signedOut("");
    });
    var picker = document.getElementById("territory-pick");
    if (picker) picker.addEventListener("change", function () { chooseTerritory(picker.value); });
    document.getElementById("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("token-input");
      var value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(tokenKey(), value);
      input.value = "";
      signIn();
    });
    onOnline(function () { if (getToken() && !state.me) signIn(); });
    if (getToken()) signIn();
    else signedOut("");
  }

  function onOnline(fn) { state.onlineListeners.push(fn); }
  function onLang(fn) { state.langListeners.push(fn); }
  function isOnline() { return state.online; }
  function pollInterval(defaultS) {
    // ?interval=N (seconds) lets the browser tests poll faster.
    var n = Number(new URLSearchParams(window.location.search).get("interval"));
    return Math.min(Math.max(n || defaultS, 1), 300) * 1000;
  }

  window.Abri = {
    init: init, api: api, t: t, has: has, el: el, svg: svg, fillBody: fillBody, notice: notice,
    problemText: problemText, newKey: newKey, loadDraft: loadDraft, saveDraft: saveDraft,
    fmtTime: fmtTime, fmtDateTime: fmtDateTime, since: since, countdown: countdown, fmtKm: fmtKm,
    composition: composition, needsText: needsText, priorityLabel: priorityLabel, prioBadge: prioBadge,
    onOnline: onOnline, onLang: onLang, isOnline: isOnline, renderBanner: renderBanner,
    pollInterval: pollInterval, lang: function () { return state.lang; },
    territory: function () { return state.territory; }, scoped: scoped,
  };
})();
