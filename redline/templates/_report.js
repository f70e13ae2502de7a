(function () {
  "use strict";
  var G = JSON.parse(document.getElementById("redline-data").textContent);
  var TECH = G.techniques, BAR = G.bar;
  var tip = document.getElementById("tip");

  function rgba(hex, a) {
    var m = /^#([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return "color-mix(in srgb, " + hex + " " + Math.round(a * 100) + "%, transparent)";
    var v = parseInt(m[1], 16);
    return "rgba(" + (v >> 16) + "," + ((v >> 8) & 255) + "," + (v & 255) + "," + a.toFixed(2) + ")";
  }

  // Same as redline.report.segment_style: one underline per span at its slot, plus a tint.
  function segStyle(cover) {
    cover = cover.slice().sort(function (a, b) { return a[0] - b[0]; });
    var deepest = cover[cover.length - 1][0];
    var pad = BAR.gap + BAR.step * deepest + BAR.h + 2;
    var img = [], size = [], pos = [];
    cover.forEach(function (c) {
      img.push("linear-gradient(" + c[1] + "," + c[1] + ")");
      size.push("100% " + BAR.h + "px");
      pos.push("left 0 bottom " + (pad - BAR.gap - BAR.step * c[0] - BAR.h) + "px");
    });
    var tint = rgba(cover[cover.length - 1][1], Math.min(0.5, BAR.alpha + 0.06 * (cover.length - 1)));
    img.push("linear-gradient(" + tint + "," + tint + ")");
    size.push("100% calc(100% - " + pad + "px)");
    pos.push("left 0 top 0");
    return "padding-bottom:" + pad + "px;background-image:" + img.join(",") + ";background-size:" +
      size.join(",") + ";background-position:" + pos.join(",");
  }

  function pct(x) { return Math.round(x * 100) + "%"; }

  function unionLength(iv) {
    iv.sort(function (a, b) { return a[0] - b[0]; });
    var total = 0, s = null, e = null;
    iv.forEach(function (x) {
      if (e === null || x[0] > e) { if (e !== null) total += e - s; s = x[0]; e = x[1]; }
      else if (x[1] > e) e = x[1];
    });
    if (e !== null) total += e - s;
    return total;
  }

  var sections = [];
  Array.prototype.forEach.call(document.querySelectorAll("section.doc"), function (sec) {
    var dataEl = sec.querySelector("script.doc-data");
    if (!dataEl) return;
    var D = JSON.parse(dataEl.textContent), spans = D.spans;
    var article = sec.querySelector(".article");
    var textLen = article ? Number(article.getAttribute("data-len")) || 1 : 1;
    var marks = Array.prototype.slice.call(sec.querySelectorAll("mark.m"));
    marks.forEach(function (m) {
      m._spans = m.getAttribute("data-s").split(" ").map(Number);
      m._vis = m._spans;
    });
    var paras = Array.prototype.map.call(sec.querySelectorAll(".para"), function (p) {
      return { el: p, text: p.querySelector("p"), marks: Array.prototype.slice.call(p.querySelectorAll("mark.m")),
               pct: p.querySelector(".dens-pct"), bar: p.querySelector(".dens-bar"), dens: p.querySelector(".dens") };
    });
    var slider = sec.querySelector(".thr-in"), out = sec.querySelector(".thr-out");
    // The slider starts at the threshold the spans were chosen with; it raises the bar.
    var state = { spans: spans, off: {}, thr: slider ? Number(slider.value) / 100 : 0 };
    marks.forEach(function (m) { m._sec = state; });

    function visible(i) { var s = spans[i]; return !state.off[s[2]] && s[3] >= state.thr - 1e-9; }

    function update() {
      marks.forEach(function (m) {
        var vis = m._spans.filter(visible);
        m._vis = vis;
        if (vis.length) {
          m.setAttribute("style", segStyle(vis.map(function (i) { return [spans[i][4], TECH[spans[i][2]].color]; })));
          m.classList.remove("off");
          m.tabIndex = 0;
        } else {
          m.removeAttribute("style");
          m.classList.add("off");
          m.tabIndex = -1;
        }
        var ts = {};
        vis.forEach(function (i) { ts[spans[i][2]] = 1; });
        m.setAttribute("data-vt", Object.keys(ts).join(" "));
      });
      paras.forEach(function (p) {
        var total = p.text.textContent.length || 1, marked = 0;
        p.marks.forEach(function (m) { if (m._vis.length) marked += m.textContent.length; });
        var d = marked / total;
        if (p.bar) p.bar.style.setProperty("--d", d.toFixed(3));
        if (p.pct) p.pct.textContent = d > 0 ? pct(d) : "";
        if (p.dens) p.dens.title = pct(d) + " of this paragraph is marked";
      });
      var counts = {}, shown = [];
      spans.forEach(function (s, i) {
        if (s[3] >= state.thr - 1e-9) counts[s[2]] = (counts[s[2]] || 0) + 1;
        if (visible(i)) shown.push([s[0], s[1]]);
      });
      Array.prototype.forEach.call(sec.querySelectorAll("[data-count]"), function (el) {
        el.textContent = counts[el.getAttribute("data-count")] || 0;
      });
      var cov = sec.querySelector('[data-stat="coverage"]');
      if (cov) cov.textContent = pct(unionLength(shown) / textLen);
      var n = sec.querySelector('[data-stat="spans"]');
      if (n) n.textContent = shown.length;
      Array.prototype.forEach.call(sec.querySelectorAll(".spanlist tr[data-i]"), function (tr) {
        tr.hidden = !visible(Number(tr.getAttribute("data-i")));
      });
    }

    var boxes = Array.prototype.slice.call(sec.querySelectorAll('.legend input[type="checkbox"][data-t]'));
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        state.off[box.getAttribute("data-t")] = !box.checked;
        box.closest("label").classList.toggle("is-off", !box.checked);
        update();
      });
    });
    Array.prototype.forEach.call(sec.querySelectorAll(".legend-actions button"), function (btn) {
      btn.addEventListener("click", function () {
        var on = btn.getAttribute("data-act") === "all";
        boxes.forEach(function (box) {
          box.checked = on;
          state.off[box.getAttribute("data-t")] = !on;
          box.closest("label").classList.toggle("is-off", !on);
        });
        update();
      });
    });
    if (slider) {
      slider.addEventListener("input", function () {
        state.thr = Number(slider.value) / 100;
        if (out) out.textContent = slider.value + "%";
        update();
      });
    }
    sections.push(update);
  });

  // Tooltip: the techniques of the hovered or focused mark.
  var current = null;
  function showTip(m, x, y) {
    if (!m._vis || !m._vis.length) return hideTip();
    var spans = m._sec.spans;
    tip.textContent = "";
    m._vis.slice().sort(function (a, b) { return spans[a][4] - spans[b][4]; }).forEach(function (i) {
      var s = spans[i], t = TECH[s[2]];
      var item = document.createElement("div"); item.className = "tip-item";
      var head = document.createElement("div"); head.className = "tip-head";
      var sw = document.createElement("span"); sw.className = "sw"; sw.style.background = t.color;
      var name = document.createElement("strong"); name.className = "tip-name"; name.textContent = t.name;
      var conf = document.createElement("span"); conf.className = "tip-conf"; conf.textContent = pct(s[3]) + " confidence";
      head.appendChild(sw); head.appendChild(name); head.appendChild(conf);
      var fam = document.createElement("div"); fam.className = "tip-fam"; fam.textContent = t.family;
      var def = document.createElement("p"); def.className = "tip-def"; def.textContent = t.definition;
      item.appendChild(head); item.appendChild(fam); item.appendChild(def);
      if (s[5] && s[5].length) {
        // The words the model leaned on most for this span.
        var trig = document.createElement("p"); trig.className = "tip-trig";
        trig.textContent = "Triggered by: " + s[5].map(function (w) { return "\u201c" + w + "\u201d"; }).join(", ");
        item.appendChild(trig);
      }
      tip.appendChild(item);
    });
    tip.hidden = false;
    current = m;
    m.setAttribute("aria-describedby", "tip");
    var rects = m.getClientRects(), r = rects[0] || m.getBoundingClientRect();
    if (x !== undefined) {
      for (var k = 0; k < rects.length; k++) {
        if (y >= rects[k].top - 4 && y <= rects[k].bottom + 4) { r = rects[k]; break; }
      }
    }
    var tw = tip.offsetWidth, th = tip.offsetHeight, vw = document.documentElement.clientWidth;
    var left = Math.max(8, Math.min((x !== undefined ? x : r.left) - 20, vw - tw - 8));
    var top = r.bottom + 8;
    if (top + th > window.innerHeight - 8 && r.top - th - 8 > 0) top = r.top - th - 8;
    tip.style.left = (left + window.scrollX) + "px";
    tip.style.top = (top + window.scrollY) + "px";
  }
  function hideTip() {
    if (current) current.removeAttribute("aria-describedby");
    current = null;
    tip.hidden = true;
  }
  document.addEventListener("mouseover", function (e) {
    var m = e.target.closest && e.target.closest("mark.m");
    if (m && !m.classList.contains("off")) showTip(m, e.clientX, e.clientY);
    else if (current && !(current === document.activeElement)) hideTip();
  });
  document.addEventListener("focusin", function (e) {
    var m = e.target.closest && e.target.closest("mark.m");
    if (m && !m.classList.contains("off")) showTip(m);
  });
  document.addEventListener("focusout", function (e) { if (e.target === current) hideTip(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") hideTip(); });
  window.addEventListener("scroll", function () { if (current && current !== document.activeElement) hideTip(); }, { passive: true });
  window.addEventListener("beforeprint", function () {
    hideTip();
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });
  document.documentElement.classList.add("js");
})();
