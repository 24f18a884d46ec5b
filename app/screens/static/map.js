/* The département as an SVG, without tiles (works offline): shelters as dots on a graticule,
 * the household's origin, its max_km circle and its safety zones. A click gives a lat/lon;
 * every point can also be typed in, so the map is never the only way. */
(function () {
  "use strict";
  var A = window.Abri;
  var W = 640, MARGIN = 20, KM_PER_DEG = 111.32;

  function create(box, opts) {
    var proj = null;

    function fit(points) {
      var lats = points.map(function (p) { return p.lat; });
      var lons = points.map(function (p) { return p.lon; });
      var pad = 0.08;
      var minLat = Math.min.apply(null, lats) - pad, maxLat = Math.max.apply(null, lats) + pad;
      var minLon = Math.min.apply(null, lons) - pad, maxLon = Math.max.apply(null, lons) + pad;
      var kx = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
      var spanX = (maxLon - minLon) * kx, spanY = maxLat - minLat;
      var scale = (W - 2 * MARGIN) / spanX;
      var H = Math.round(Math.min(Math.max(spanY * scale + 2 * MARGIN, 240), 520));
      scale = Math.min(scale, (H - 2 * MARGIN) / spanY);
      var offX = (W - spanX * scale) / 2, offY = (H - spanY * scale) / 2;
      return {
        H: H, scale: scale, minLat: minLat, maxLat: maxLat, minLon: minLon, maxLon: maxLon,
        x: function (lon) { return offX + (lon - minLon) * kx * scale; },
        y: function (lat) { return offY + (maxLat - lat) * scale; },
        lon: function (x) { return minLon + (x - offX) / (kx * scale); },
        lat: function (y) { return maxLat - (y - offY) / scale; },
        px: function (km) { return (km / KM_PER_DEG) * scale; },
      };
    }

    function draw(marks) {
      box.replaceChildren();
      var shelters = opts.shelters();
      var points = shelters.slice();
      if (marks.origin) points.push(marks.origin);
      (marks.zones || []).forEach(function (z) { points.push(z); });
      if (!points.length) return;
      proj = fit(points);
      var p = proj, H = p.H;
      var root = A.svg("svg", {
        viewBox: "0 0 " + W + " " + H, role: "img", class: "map-svg",
        "aria-labelledby": "map-title-" + box.id, "data-testid": "map-svg",
      });
      root.appendChild(A.svg("title", { id: "map-title-" + box.id }, [opts.title()]));
      root.appendChild(A.svg("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }));
      var grid = A.svg("g", { class: "graticule", "aria-hidden": "true" });
      for (var lo = Math.ceil(p.minLon * 10) / 10; lo <= p.maxLon; lo += 0.1) {
        grid.appendChild(A.svg("line", { x1: p.x(lo), x2: p.x(lo), y1: 0, y2: H }));
      }
      for (var la = Math.ceil(p.minLat * 10) / 10; la <= p.maxLat; la += 0.1) {
        grid.appendChild(A.svg("line", { x1: 0, x2: W, y1: p.y(la), y2: p.y(la) }));
      }
      root.appendChild(grid);
      var bar = p.px(10);
      root.appendChild(A.svg("g", { class: "scalebar", "aria-hidden": "true" }, [
        A.svg("line", { x1: 12, x2: 12 + bar, y1: H - 12, y2: H - 12 }),
        A.svg("text", { x: 12, y: H - 18 }, ["10 km"]),
      ]));
      var dots = A.svg("g", { "aria-hidden": "true" });
      shelters.forEach(function (s) {
        dots.appendChild(A.svg("circle", { cx: p.x(s.lon), cy: p.y(s.lat), r: 5, class: "map-shelter k-" + s.kind }, [
          A.svg("title", {}, [s.name]),
        ]));
      });
      root.appendChild(dots);
      (marks.zones || []).forEach(function (z) {
        root.appendChild(A.svg("circle", { cx: p.x(z.lon), cy: p.y(z.lat), r: Math.max(p.px(z.km), 4), class: "map-zone", "data-testid": "map-zone" }));
      });
      if (marks.origin) {
        if (marks.maxKm) {
          root.appendChild(A.svg("circle", { cx: p.x(marks.origin.lon), cy: p.y(marks.origin.lat), r: p.px(marks.maxKm), class: "map-maxkm" }));
        }
        root.appendChild(A.svg("circle", { cx: p.x(marks.origin.lon), cy: p.y(marks.origin.lat), r: 7, class: "map-origin", "data-testid": "map-origin" }));
      }
      root.addEventListener("click", function (event) {
        var rect = root.getBoundingClientRect();
        var x = ((event.clientX - rect.left) / rect.width) * W;
        var y = ((event.clientY - rect.top) / rect.height) * H;
        var round = function (v) { return Math.round(v * 10000) / 10000; };
        opts.onPick(round(p.lat(y)), round(p.lon(x)));
      });
      box.appendChild(root);
    }

    return { draw: draw };
  }

  window.AbriMap = { create: create };
})();
