// The graph viewer (explorer/ui/graph_viewer.py): pan/zoom over graphviz's SVG with svg-pan-zoom.
// View logic only: framing, fit width / all / 100%, zoom to a block, search hits, click to pick,
// Present's new/old highlighting, keyboard and full screen. The SVG comes ready from Python.
//
// Coordinates: svg-pan-zoom puts the drawing in a viewport <g> whose matrix is (R, panX, panY);
// a point p of the drawing is at R*p + pan on screen (relative to the <svg>). R is "realZoom".
// It applies a new matrix on the next frame, so every computation reads its state, not the DOM.

const GV_MIN_ZOOM = 0.01, GV_MAX_ZOOM = 2000;

function gvNodes(gv) {
  if (!gv.nodes) {
    gv.nodes = new Map();
    if (gv.canvas) gv.canvas.querySelectorAll('g.node').forEach((g) => {
      const t = g.querySelector(':scope > title');
      if (t) gv.nodes.set(t.textContent, g);
    });
  }
  return gv.nodes;
}

// Font size of node labels in drawing units (the median of the first labels).
function gvFontUnits(gv, scope) {
  if (!gv.fontUnits) {
    const sizes = [...(scope || gv.canvas).querySelectorAll('g.node text')].slice(0, 300)
      .map((t) => parseFloat(t.getAttribute('font-size'))).filter((v) => v > 0).sort((a, b) => a - b);
    gv.fontUnits = sizes.length ? sizes[Math.floor(sizes.length / 2)] : 10;
  }
  return gv.fontUnits;
}

// Bounding box of elements in drawing (viewport-local) coordinates.
function gvBox(gv, els) {
  gvReveal(gv);
  const vp = gv.canvas.querySelector('.svg-pan-zoom_viewport');
  if (!vp) return null;
  const inv = vp.getCTM().inverse();
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const el of els) {
    if (!el) continue;
    const m = inv.multiply(el.getCTM());
    const b = el.getBBox();
    for (const [x, y] of [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]) {
      const p = new DOMPoint(x, y).matrixTransform(m);
      x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
    }
  }
  return x0 === Infinity ? null : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

// The whole drawing: graphviz's viewBox (svg-pan-zoom keeps it), which needs no layout; the
// viewport's bounding box only for a drawing without one.
function gvWhole(gv) {
  const vb = gv.pz && gv.pz.getSizes().viewBox;
  if (vb && vb.width > 0 && vb.height > 0) return { x: vb.x, y: vb.y, width: vb.width, height: vb.height };
  return gvBox(gv, [gv.canvas.querySelector('.svg-pan-zoom_viewport')]);
}

// Write svg-pan-zoom's matrix now (it writes it on the next frame), in its own format, so that
// the next layout already sees the final zoom: a new zoom lays out every label again (~0.1-0.2 s
// on DenseNet201's 709 nodes in Chromium), the same matrix again costs nothing.
function gvApplyNow(gv, vp) {
  const s = gv.pz.getSizes(), p = gv.pz.getPan(), m = `matrix(${s.realZoom},0,0,${s.realZoom},${p.x},${p.y})`;
  vp.setAttributeNS(null, 'transform', m);
  vp.style.transform = m;
}

// Elements of a new drawing far outside the first view (more than a view's height or width away)
// wait outside the page, a comment keeping their place, until that view is on screen: a tall layer
// view shows a few dozen of its 709 nodes at first, and laying out all of them held its first frame
// back by ~0.25 s (display:none did not spare Chromium that work; leaving them out did). Their
// place is read from their coordinates in graphviz's output, without layout. gvReveal puts them
// back (after the first frame, or before anything looks for nodes or measures the drawing).
function gvDefer(gv, content) {
  const graph = content.querySelector('g.graph');
  if (!graph) return [];
  const t = /translate\(\s*([-\d.e]+)[\s,]+([-\d.e]+)/.exec(graph.getAttribute('transform') || '');
  const tx = t ? parseFloat(t[1]) : 0, ty = t ? parseFloat(t[2]) : 0;
  const s = gv.pz.getSizes(), p = gv.pz.getPan(), R = s.realZoom;
  const x0 = -p.x / R - s.width / R, x1 = (2 * s.width - p.x) / R;
  const y0 = -p.y / R - s.height / R, y1 = (2 * s.height - p.y) / R;
  const num = /-?\d*\.?\d+(?:e-?\d+)?/g;
  const out = [];
  for (const el of graph.children) {
    if (el.tagName !== 'g') continue;
    const shape = el.querySelector('path, polygon, ellipse, polyline, text');
    if (!shape) continue;
    let xs = [], ys = [];
    if (shape.tagName === 'ellipse') {
      const cx = +shape.getAttribute('cx'), cy = +shape.getAttribute('cy'), rx = +shape.getAttribute('rx'), ry = +shape.getAttribute('ry');
      xs = [cx - rx, cx + rx]; ys = [cy - ry, cy + ry];
    } else if (shape.tagName === 'text') {
      xs = [+shape.getAttribute('x')]; ys = [+shape.getAttribute('y')];
    } else {
      const v = (shape.getAttribute(shape.tagName === 'path' ? 'd' : 'points') || '').match(num) || [];
      for (let i = 0; i + 1 < v.length; i += 2) { xs.push(+v[i]); ys.push(+v[i + 1]); }
    }
    if (!xs.length) continue;
    const ax = Math.min(...xs) + tx, bx = Math.max(...xs) + tx, ay = Math.min(...ys) + ty, by = Math.max(...ys) + ty;
    if (bx < x0 || ax > x1 || by < y0 || ay > y1) out.push(el);
  }
  return out.map((el) => {
    const mark = document.createComment('');
    el.replaceWith(mark);
    return [mark, el];
  });
}

function gvReveal(gv, slot) {
  slot = slot || gv.canvas;
  const later = slot && slot.gvDeferred;
  if (!later) return;
  slot.gvDeferred = null;
  for (const [mark, el] of later) mark.replaceWith(el);
  if (slot === gv.canvas) {
    gv.nodes = null;
    gvFillBlocks(gv);
    gvDecorate(gv);
  }
}

// Search hits and click-to-pick on the nodes of the drawing on screen (Build).
function gvDecorate(gv) {
  const data = gv.data;
  if (data.mode === 'present') return null;
  const hits = new Set(data.hits || []);
  let first = null;
  gvNodes(gv).forEach((g, id) => {
    const hit = hits.has(id);
    g.classList.toggle('gv-hit', hit);
    if (hit && !first) first = g;
    g.onclick = data.pick ? () => gv.setTrigger('picked', id) : null;
  });
  return first;
}

// A new drawing: parsed off the page, framed with its labels still outside it, then its labels
// added; Chromium lays the text out once, at the final zoom (framing it on the page took three
// to four layouts of every label: the viewBox scale, svg-pan-zoom's fit, our framing).
function gvAttach(gv, text, frame, defer) {
  const tmp = document.createElement('div');
  tmp.innerHTML = text;
  const svgEl = tmp.querySelector('svg');
  if (!svgEl) return null;
  svgEl.removeAttribute('width');
  svgEl.removeAttribute('height');
  const content = document.createDocumentFragment();
  for (const n of [...svgEl.childNodes]) if (n.nodeName !== 'defs') content.appendChild(n);
  const vp = document.createElementNS('http://www.w3.org/2000/svg', 'g');
  vp.setAttribute('class', 'svg-pan-zoom_viewport');
  svgEl.appendChild(vp);
  const slot = document.createElement('div');
  slot.className = 'gv-slot gv-canvas';
  gv.stage.appendChild(slot);
  gv.canvas = slot;
  slot.appendChild(svgEl);
  gv.pz = window.svgPanZoom(svgEl, {
    viewportSelector: vp, zoomEnabled: true, mouseWheelZoomEnabled: false, controlIconsEnabled: false, fit: true,
    center: true, minZoom: GV_MIN_ZOOM, maxZoom: GV_MAX_ZOOM, zoomScaleSensitivity: 0.3, dblClickZoomEnabled: false,
    onZoom: () => gvShowZoom(gv),
  });
  gvFontUnits(gv, content);
  if (frame) {
    frame();
    gvApplyNow(gv, vp);
    const later = defer ? gvDefer(gv, content) : [];
    if (later.length) slot.gvDeferred = later;
  }
  vp.appendChild(content);
  return svgEl;
}

function gvSetZoom(gv, R) {
  const pz = gv.pz, s = pz.getSizes();
  pz.zoom(pz.getZoom() * R / s.realZoom);
  return pz.getSizes().realZoom;
}

// Show `box` at real zoom R: centred where it fits, else from its left/top edge.
function gvShow(gv, box, R, align) {
  const s = gv.pz.getSizes();
  R = gvSetZoom(gv, R);
  const pad = 12, w = box.width * R, h = box.height * R;
  const x = w + 2 * pad <= s.width ? (s.width - w) / 2 - box.x * R : pad - box.x * R;
  let y;
  if (align === 'top') y = h + 2 * pad <= s.height ? Math.min((s.height - h) / 2, pad) - box.y * R : pad - box.y * R;
  else y = h + 2 * pad <= s.height ? (s.height - h) / 2 - box.y * R : pad - box.y * R;
  gv.pz.pan({ x, y });
  gvShowZoom(gv);
}

function gvShowZoom(gv) {
  const el = gv.root.querySelector('.gv-zoom');
  if (el && gv.pz) el.textContent = Math.round(100 * gv.pz.getSizes().realZoom) + '%';
}

// Fit `box` (all of it in view), with labels no bigger than maxPx and, when the box allows, no
// smaller than minPx.
function gvFit(gv, box, { minPx = 0, maxPx = 1e9, pad = 16, align = 'centre' } = {}) {
  if (!box) return;
  const s = gv.pz.getSizes(), f = gvFontUnits(gv);
  let R = Math.min((s.width - 2 * pad) / Math.max(box.width, 1), (s.height - 2 * pad) / Math.max(box.height, 1));
  R = Math.min(R, maxPx / f);
  gvShow(gv, box, R, align);
  return R * f >= minPx;
}

// Build's first view: the whole width, labels at least minPx (then it scrolls vertically).
function gvFitWidth(gv, minPx, maxPx) {
  const box = gvWhole(gv);
  if (!box) return;
  const s = gv.pz.getSizes(), f = gvFontUnits(gv);
  let R = (s.width - 24) / Math.max(box.width, 1);
  R = Math.max(Math.min(R, maxPx / f), minPx / f);
  gvShow(gv, box, R, 'top');
}

function gvFitAll(gv) {
  const box = gvWhole(gv);
  const s = gv.pz.getSizes();
  if (box) gvShow(gv, box, Math.min((s.width - 24) / box.width, (s.height - 24) / box.height), 'centre');
}

function gvActual(gv) {
  const s = gv.pz.getSizes(), pan = gv.pz.getPan(), R = s.realZoom;
  const cx = (s.width / 2 - pan.x) / R, cy = (s.height / 2 - pan.y) / R;  // keep the centre
  const R2 = gvSetZoom(gv, 1);
  gv.pz.pan({ x: s.width / 2 - cx * R2, y: s.height / 2 - cy * R2 });
  gvShowZoom(gv);
}

function gvZoomBy(gv, factor) {
  const s = gv.pz.getSizes();
  gv.pz.zoomAtPoint(gv.pz.getZoom() * factor, { x: s.width / 2, y: s.height / 2 });
  gvShowZoom(gv);
}

// Centre on one node at a readable size (a search hit, the block just expanded).
function gvCentre(gv, node, minPx) {
  const box = gvBox(gv, [node]);
  if (!box) return;
  const s = gv.pz.getSizes(), f = gvFontUnits(gv);
  const R = Math.max(s.realZoom, minPx / f);
  const R2 = gvSetZoom(gv, R);
  gv.pz.pan({ x: s.width / 2 - (box.x + box.width / 2) * R2, y: s.height / 2 - (box.y + box.height / 2) * R2 });
  gvShowZoom(gv);
}

// Blocks one can zoom to: block nodes and block clusters, by their path.
function gvBlocks(gv) {
  const out = [];
  gv.canvas.querySelectorAll('g.node, g.cluster').forEach((g) => {
    const t = g.querySelector(':scope > title');
    if (!t) return;
    const id = t.textContent;
    if (id.startsWith('block:')) out.push([id.slice(6), g]);
    else if (id.startsWith('cluster_') && !id.startsWith('cluster_model:')) out.push([id.slice(8), g]);
  });
  return out;
}

function gvFullscreen(el) {
  const doc = el.ownerDocument;
  if (doc.fullscreenElement) doc.exitFullscreen().catch(() => {});
  else if (el.requestFullscreen) el.requestFullscreen().catch(() => {});
}

function gvHeight(gv) {
  const d = gv.data, root = gv.root;
  if (root.ownerDocument.fullscreenElement === root) { root.style.height = ''; return; }
  let h = d.height;
  if (d.fill) {
    const top = root.getBoundingClientRect().top + (window.scrollY || 0);
    h = Math.max(d.height, Math.floor(window.innerHeight - top - (d.bottom_gap || 16)));
  }
  root.style.height = h + 'px';
}

// Present: classes for the new part and the dimmed earlier parts, then frame new + context.
function gvPresent(gv) {
  const fr = gv.data.frame;
  if (!fr) return;
  const nodes = gvNodes(gv), fresh = new Set(fr.new);
  nodes.forEach((g, id) => {
    g.classList.toggle('gv-new', fresh.has(id));
    g.classList.toggle('gv-old', !fresh.has(id));
  });
  gv.canvas.querySelectorAll('g.edge').forEach((g) => {
    const t = g.querySelector(':scope > title');
    const [a, b] = t ? t.textContent.split('->') : ['', ''];
    g.classList.toggle('gv-old', !(fresh.has(a) || fresh.has(b)));
  });
  const all = [gv.canvas.querySelector('.svg-pan-zoom_viewport')];
  const news = fr.new.map((id) => nodes.get(id)).filter(Boolean);
  const els = [...news, ...fr.context.map((id) => nodes.get(id)).filter(Boolean)];
  const opts = { minPx: fr.min_px, maxPx: fr.max_px, pad: 24 };
  // New part and its context; if that makes labels too small, the new part alone.
  if (!gvFit(gv, gvBox(gv, els.length ? els : all), opts) && news.length && els.length > news.length) {
    gvFit(gv, gvBox(gv, news), opts);
  }
}

// One keydown listener on the page (components run in the page, not in an iframe): it serves
// the most recently drawn viewer that asked for keys, so keys work before any click.
function gvKeys(e) {
  const gv = window.__gvActive;
  if (!gv || !gv.root.isConnected || e.defaultPrevented || e.altKey || e.metaKey || e.ctrlKey) return;
  const t = e.composedPath ? e.composedPath()[0] : e.target;
  const tag = (t && t.tagName || '').toLowerCase();
  const typing = tag === 'textarea' || (t && t.isContentEditable) || (tag === 'input' &&
    !['radio', 'checkbox', 'button', 'range', 'submit'].includes((t.type || '').toLowerCase()));
  if (typing || tag === 'select') return;
  const k = e.key;
  if (gv.data.mode === 'present') {
    // Captured before the focused control (a radio or the slider after a click) sees the key.
    const act = { ArrowRight: 'next', PageDown: 'next', ' ': 'next', Spacebar: 'next', ArrowLeft: 'back',
                  PageUp: 'back', Home: 'first', End: 'last' }[k];
    if (act) {
      e.preventDefault();
      e.stopPropagation();
      gv.setTrigger('key', act + ':' + Date.now());
      return;
    }
    if (k === 'f' || k === 'F') { e.preventDefault(); gvFullscreen(gv.root.ownerDocument.documentElement); }
    return;
  }
  if (k === '+' || k === '=') { e.preventDefault(); gvZoomBy(gv, 1.25); }
  else if (k === '-' || k === '_') { e.preventDefault(); gvZoomBy(gv, 0.8); }
  else if (k === 'f' || k === 'F') { e.preventDefault(); gvFullscreen(gv.root); }
}

// Wheel: scroll through the drawing (shift: sideways); ctrl/⌘ or a pinch: zoom. At the drawing's
// end the page scrolls on.
function gvWheel(gv, e) {
  if (!gv.pz) return;
  const s = gv.pz.getSizes();
  if (e.ctrlKey || e.metaKey) {
    e.preventDefault();
    const r = gv.canvas.getBoundingClientRect();
    gv.pz.zoomAtPoint(gv.pz.getZoom() * Math.exp(-e.deltaY * 0.002), { x: e.clientX - r.left, y: e.clientY - r.top });
    gvShowZoom(gv);
    return;
  }
  const box = gvWhole(gv), pan = gv.pz.getPan(), R = s.realZoom;
  let dx = e.shiftKey ? e.deltaY : e.deltaX, dy = e.shiftKey ? 0 : e.deltaY;
  if (e.deltaMode === 1) { dx *= 16; dy *= 16; }
  const top = box.y * R + pan.y, bottom = (box.y + box.height) * R + pan.y;
  const left = box.x * R + pan.x, right = (box.x + box.width) * R + pan.x;
  const ny = dy > 0 ? -Math.min(dy, Math.max(0, bottom - s.height + 12)) : Math.min(-dy, Math.max(0, 12 - top));
  const nx = dx > 0 ? -Math.min(dx, Math.max(0, right - s.width + 12)) : Math.min(-dx, Math.max(0, 12 - left));
  if (Math.abs(ny) < 0.5 && Math.abs(nx) < 0.5) return;  // nothing left to scroll: the page scrolls
  e.preventDefault();
  gv.pz.panBy({ x: nx, y: ny });
}

function gvToolbar(gv) {
  const bar = gv.root.querySelector('.gv-bar');
  const d = gv.data;
  bar.querySelectorAll('button, select').forEach((el) => {
    const act = el.dataset.act;
    const show = d.mode === 'present' ? act === 'full' : true;
    el.style.display = show ? '' : 'none';
  });
  bar.querySelector('.gv-zoom').style.display = d.mode === 'present' ? 'none' : '';
  bar.querySelector('.gv-help').textContent = d.help || '';
  if (bar.dataset.wired) return;
  bar.dataset.wired = '1';
  bar.addEventListener('click', (e) => {
    const act = e.target.closest('button') && e.target.closest('button').dataset.act;
    const g = gv.root._gv;
    if (!act || !g || !g.pz) return;
    if (act === 'width') gvFitWidth(g, g.data.min_px, g.data.max_px);
    else if (act === 'all') gvFitAll(g);
    else if (act === 'actual') gvActual(g);
    else if (act === 'in') gvZoomBy(g, 1.25);
    else if (act === 'out') gvZoomBy(g, 0.8);
    else if (act === 'full') gvFullscreen(g.data.mode === 'present' ? g.root.ownerDocument.documentElement : g.root);
  });
  bar.querySelector('select').addEventListener('change', (e) => {
    const g = gv.root._gv, path = e.target.value;
    if (!g || !path) return;
    const hit = gvBlocks(g).find(([p]) => p === path);
    if (hit) gvFit(g, gvBox(g, [hit[1]]), { maxPx: 22, minPx: g.data.min_px, pad: 20 });
  });
}

function gvFillBlocks(gv) {
  const sel = gv.root.querySelector('.gv-bar select');
  const blocks = gvBlocks(gv);
  sel.length = 1;
  for (const [path] of blocks) sel.add(new Option(path, path));
  sel.style.display = blocks.length && gv.data.mode !== 'present' ? '' : 'none';
}

// Put the drawing on screen aside (its svg-pan-zoom state too) for a later switch back. It stays
// in the page, laid out, transparent and under the drawing on screen, at the size it had: showing
// it again at that size needs no new layout of its labels (a detached one needed a full layout,
// ~0.25 s for DenseNet201's layer view). The oldest parked drawings beyond GV_PARKED are dropped.
const GV_PARKED = 4;
function gvPark(gv) {
  gv.parked = gv.parked || new Map();
  const slot = gv.canvas, sig = slot && slot.dataset.sig;
  if (slot && gv.pz && sig && slot.querySelector('svg')) {
    gvReveal(gv, slot);
    slot.style.width = slot.offsetWidth + 'px';
    slot.style.height = slot.offsetHeight + 'px';
    slot.classList.replace('gv-canvas', 'gv-parked');
    delete slot.dataset.frame;
    gv.parked.delete(sig);
    gv.parked.set(sig, { slot, pz: gv.pz, nodes: gv.nodes, fontUnits: gv.fontUnits });
  } else if (slot) {
    if (gv.pz) try { gv.pz.destroy(); } catch (e) { /* already gone */ }
    slot.remove();
  }
  gv.pz = null;
  gv.canvas = null;
  while (gv.parked.size > GV_PARKED) {
    const [oldest, d] = gv.parked.entries().next().value;
    gv.parked.delete(oldest);
    try { d.pz.destroy(); } catch (e) { /* already gone */ }
    d.slot.remove();
  }
}

// Bring a parked drawing back on screen, as it was left (pan and zoom included).
function gvUnpark(gv, d) {
  d.slot.style.width = '';
  d.slot.style.height = '';
  d.slot.classList.replace('gv-parked', 'gv-canvas');
  gv.canvas = d.slot;
  gv.pz = d.pz; gv.nodes = d.nodes; gv.fontUnits = d.fontUnits;
  gv.pz.resize();
}

function gvMark(gv, what) {
  // The view is on screen after the next frame (svg-pan-zoom's matrix lands then). The page's
  // performance timeline gets a mark too (benchmarks/graph_browser.py reads it: no DOM polling).
  const slot = gv.canvas;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const sig = gv.data[what + '_sig'] || '';
    if (gv.canvas !== slot) return;  // another drawing came meanwhile
    slot.dataset[what] = sig;
    // nodes: the drawing's, those still waiting outside the page included
    const waiting = (slot.gvDeferred || []).filter(([, el]) => el.classList.contains('node')).length;
    performance.mark('gv-' + what, { detail: { sig, nodes: gvNodes(gv).size + waiting, mode: gv.data.mode } });
    gvReportDrawn(gv);
    if (slot.gvDeferred) setTimeout(() => gvReveal(gv, slot), 0);
  }));
}

// Build's graph-first pass waits for this: the rest of the page comes once the drawing is on screen.
function gvReportDrawn(gv) {
  if (!gv.data.report_drawn || gv.reported === gv.data.sig) return;
  gv.reported = gv.data.sig;
  gv.setTrigger('drawn', gv.data.sig);
}

export default function (component) {
  try {
    gvUpdate(component);
  } catch (err) {
    // Whatever went wrong with the drawing, Build's graph-first pass must not wait for it.
    const root = component.parentElement.querySelector('.gv-root');
    if (root && root._gv) gvReportDrawn(root._gv);
    throw err;
  }
}

function gvUpdate(component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector('.gv-root');
  const gv = root._gv || { root, stage: root.querySelector('.gv-stage'), canvas: null };
  root._gv = gv;
  gv.data = data;
  gv.setTrigger = setTriggerValue;
  // A new drawing: the one on screen is parked first, before the toolbar or the height change
  // (resizing it on its way out laid all its labels out again).
  const fresh = !gv.canvas || gv.canvas.dataset.sig !== data.sig;
  if (fresh) gvPark(gv);
  root.classList.toggle('gv-present', data.mode === 'present');
  gvToolbar(gv);
  gvHeight(gv);
  if (!window.__gvKeysInstalled) {
    window.__gvKeysInstalled = true;
    root.ownerDocument.addEventListener('keydown', (e) => gvKeys(e), true);
    window.addEventListener('resize', () => {
      const g = window.__gvActive;
      if (g && g.root.isConnected && g.pz) { gvHeight(g); g.pz.resize(); }
    });
    root.ownerDocument.addEventListener('fullscreenchange', () => {
      const g = window.__gvActive;
      if (g && g.root.isConnected && g.pz) {
        gvHeight(g);
        setTimeout(() => { g.pz.resize(); if (g.data.mode === 'present') gvPresent(g); else gvFitWidth(g, g.data.min_px, g.data.max_px); }, 50);
      }
    });
  }
  if (data.keys) window.__gvActive = gv;
  let framed = false;
  if (fresh) {
    framed = true;
    const parked = gv.parked.get(data.sig);
    gv.hitsSig = null;
    if (parked) {
      // A drawing shown before (a view switched back to, a step revisited): shown again as it
      // was left, instead of parsing and laying out its SVG again.
      gv.parked.delete(data.sig);
      gvUnpark(gv, parked);
      gvFillBlocks(gv);
      if (data.mode === 'present') gvPresent(gv);
      gvShowZoom(gv);
    } else {
      gv.nodes = null; gv.fontUnits = null;
      // Build opens at the whole width (and a block just expanded is centred from there, which
      // pans without a new zoom when the width is legible); Present frames nodes, which needs them laid out.
      const build = data.mode !== 'present';
      // A focus or a search hit may be anywhere: those drawings come whole.
      const whole = !!data.focus || !!(data.hits && data.hits.length);
      const svgEl = gvAttach(gv, data.svg, build ? () => gvFitWidth(gv, data.min_px, data.max_px) : null, build && !whole);
      if (svgEl) {
        svgEl.addEventListener('wheel', (e) => gvWheel(gv, e), { passive: false });
        gvFillBlocks(gv);
        const focus = data.focus ? gvNodes(gv).get(data.focus) : null;
        if (!build) gvPresent(gv);
        else if (focus) gvCentre(gv, focus, data.min_px);  // the block just expanded
      }
    }
    if (gv.canvas) gv.canvas.dataset.sig = data.sig;
  } else if (data.mode === 'present' && gv.pz && gv.frameSig !== data.frame_sig) {
    gvPresent(gv);
    framed = true;
  }
  gv.frameSig = data.frame_sig;
  if (data.mode !== 'present') {
    const first = gvDecorate(gv);
    if (first && gv.pz && data.hits_sig !== gv.hitsSig) gvCentre(gv, first, data.min_px);
    gv.hitsSig = data.hits_sig;
  }
  if (framed && gv.canvas) gvMark(gv, 'frame');
  else gvReportDrawn(gv);  // nothing new to frame (or nothing to draw): the page need not wait
}
