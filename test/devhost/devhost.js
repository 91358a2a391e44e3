// Dev host: plays the vSphere Client for the Stillpoint remote plugin (demo and browser tests).
// Everything plugin-specific (tabs, views, actions, labels, icons) is built from /plugin.json at runtime;
// plugin views run in iframes and talk to ./htmlClientSdk.js (served at /api/ui/htmlClientSdk.js) via postMessage.
const ORIGIN = location.origin;
const MANIFEST_URL = new URL('/plugin.json', ORIGIN);
const VC_GUID = 'f3b5d2c4-devhost-vcsim';
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v != null) e.setAttribute(k, String(v));
  }
  e.append(...children.filter((c) => c != null));
  return e;
};

const state = {
  token: sessionStorage.getItem('devhost.token'),            // bearer token: the host's own API calls
  pluginToken: sessionStorage.getItem('devhost.pluginToken'), // what getSessionInfo() hands the plugin
  user: sessionStorage.getItem('devhost.user'),
  manifest: null,
  vms: [],
  selected: new Set(),   // vm ids selected in the tree (context of actions)
  object: 'global',      // 'global' or a vm id
  tab: 'summary',        // summary | monitor | configure
  subview: null,         // navigationId of the monitor/configure view
  theme: localStorage.getItem('devhost.theme') || 'light',
  locale: new URLSearchParams(location.search).get('locale') || localStorage.getItem('devhost.locale') || 'en-US',
  frames: new Map(),     // frame id → { iframe, context, customData, navigationData, modal?, opener?, reqId? }
  navigationData: null,
};
let frameSeq = 0;
const urn = (vmId) => `urn:vmomi:VirtualMachine:${vmId}:${VC_GUID}`;
const t = (key) => state.manifest?.definitions?.i18n?.definitions?.[key]?.[state.locale] ?? key;
const resolve = (uri) => new URL(uri, MANIFEST_URL).href;

// ---------- API ----------
async function api(path, init = {}) {
  const res = await fetch(ORIGIN + path, { ...init, headers: { 'content-type': 'application/json', ...(state.token ? { authorization: `Bearer ${state.token}` } : {}), ...(init.headers || {}) } });
  if (res.status === 401 && path !== '/api/session/login' && !path.startsWith('/api/devhost/')) { logout(); throw new Error('session expired'); }
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || res.statusText);
  return res.status === 204 ? null : res.json();
}
async function login(username, password) {
  const r = await api('/api/session/login', { method: 'POST', body: JSON.stringify({ username, password }) });
  state.token = r.token; state.user = r.username;
  sessionStorage.setItem('devhost.token', r.token); sessionStorage.setItem('devhost.user', r.username);
  // Like the vSphere Client, give plugin frames a vCenter UI session token (the backend clones it) when the
  // service offers one in demo mode; else the frames get the bearer token itself.
  state.pluginToken = null; sessionStorage.removeItem('devhost.pluginToken');
  try {
    const ui = await api('/api/devhost/ui-session', { method: 'POST', body: JSON.stringify({ username, password }) });
    if (ui?.sessionToken) { state.pluginToken = ui.sessionToken; sessionStorage.setItem('devhost.pluginToken', ui.sessionToken); }
  } catch { /* not offered: use the bearer token */ }
}
function logout() {
  state.token = state.pluginToken = null;
  sessionStorage.removeItem('devhost.token'); sessionStorage.removeItem('devhost.pluginToken');
  showLogin();
}

// ---------- icons from the manifest's sprite sheet ----------
function spriteIcon(name) {
  const sheet = state.manifest?.definitions?.iconSpriteSheet;
  if (!sheet) return el('span', { class: 'icon' });
  const themed = state.theme === 'dark' && sheet.themeOverrides?.dark ? sheet.themeOverrides.dark : sheet;
  const d = themed.definitions[name] ?? sheet.definitions[name];
  const e = el('span', { class: 'icon sprite', 'aria-hidden': 'true', 'data-icon': name });
  if (d) e.style.background = `url("${resolve(themed.uri ?? sheet.uri)}") -${d.x}px -${d.y}px no-repeat`;
  return e;
}
const vmIcon = (vm) => el('span', { class: 'icon', 'aria-hidden': 'true' }, vm.powerState === 'poweredOn' ? '▶' : '■');

// ---------- frames ----------
function pluginFrame(uri, { context = [], customData = null, navigationData = null, cls = 'view-frame', title = '' } = {}) {
  const id = `spf${++frameSeq}`;
  const iframe = el('iframe', { class: cls, name: id, title: title || uri, src: resolve(uri) });
  state.frames.set(id, { iframe, context, customData, navigationData });
  return iframe;
}
function forgetDetachedFrames() {
  for (const [id, f] of state.frames) if (!f.iframe.isConnected) state.frames.delete(id);
}
function post(frame, msg) { frame.iframe.contentWindow?.postMessage(msg, ORIGIN); }

window.addEventListener('message', (ev) => {
  if (ev.origin !== ORIGIN || !ev.data || typeof ev.data.sp !== 'string') return;
  const m = ev.data;
  const frame = state.frames.get(m.frameId);
  if (!frame || frame.iframe.contentWindow !== ev.source) return;
  const reply = (value) => post(frame, { sp: 'reply', reqId: m.reqId, value });
  switch (m.sp) {
    case 'init':
      post(frame, { sp: 'init', state: { contextObjects: frame.context, theme: state.theme, locale: state.locale, customData: frame.customData, navigationData: frame.navigationData } });
      break;
    case 'session': reply({ sessionToken: state.pluginToken ?? state.token, nodeId: 'devhost' }); break;
    case 'backendInfo': {
      const server = { proxiedUrl: ORIGIN, proxiedBaseUrl: '', type: 'PLUGIN_SERVER' };
      reply({ allPluginBackendServers: [server], backendServersPerVc: { [VC_GUID]: [server] }, backendServersPerVcObject: {} });
      break;
    }
    case 'modal.open': openModal(m.options, frame.context, { opener: m.frameId, reqId: m.reqId }); break;
    case 'modal.close': if (frame.modal) closeModal(m.data); break;
    case 'modal.setOptions': if (frame.modal && m.options.title) $('#modal-title').textContent = m.options.title; break;
    case 'navigateTo': navigateTo(m.options); break;
  }
});

// ---------- modal ----------
let modalState = null;
function openModal(options, fallbackContext, { opener = null, reqId = null } = {}) {
  closeMenu();
  if (modalState) closeModal(null);
  const size = options.size || { width: 600, height: 400 };
  const iframe = pluginFrame(options.url, { context: options.contextObjects || fallbackContext || [], customData: options.customData ?? null, cls: 'modal-frame', title: options.title });
  iframe.style.width = `${size.width}px`; iframe.style.height = `${size.height}px`;
  const id = iframe.name;
  state.frames.get(id).modal = true;
  modalState = { id, opener, reqId, returnFocus: document.activeElement };
  $('#modal-title').textContent = options.title || '';
  $('#modal-frame').replaceWith(Object.assign(iframe, { id: 'modal-frame' }));
  $('#modal').hidden = false;
  $('#modal-x').hidden = options.closable === false;
  iframe.addEventListener('load', () => iframe.focus(), { once: true });
}
function closeModal(data) {
  if (!modalState) return;
  const { id, opener, reqId, returnFocus } = modalState;
  modalState = null;
  $('#modal').hidden = true;
  $('#modal-frame').replaceWith(el('iframe', { id: 'modal-frame', title: '' }));
  state.frames.delete(id);
  const o = opener && state.frames.get(opener);
  if (o) post(o, { sp: 'modal.closed', reqId, data });
  // Like the vSphere Client after an action: refresh the views that are showing.
  for (const f of state.frames.values()) post(f, { sp: 'refresh' });
  returnFocus?.focus?.();
}
$('#modal-x').addEventListener('click', () => closeModal(null));
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && modalState && $('#modal-x').hidden === false) closeModal(null); });

// ---------- actions (context menu) ----------
function vmActions() { return state.manifest?.objects?.VirtualMachine?.menu?.actions ?? []; }
function runAction(action, vmIds) {
  closeMenu();
  const trigger = action.trigger;
  const context = vmIds.map((id) => ({ id: urn(id) }));
  if (trigger.type === 'modal') openModal({ url: trigger.uri, title: t(trigger.titleKey), accessibilityTitle: t(trigger.accessibilityTitleKey), size: trigger.size }, context);
  else if (trigger.type === 'navigation') navigateTo({ targetViewId: trigger.targetViewId, objectId: context[0]?.id });
}
function openMenu(x, y, vmIds) {
  const menu = $('#menu');
  const names = vmIds.map((id) => state.vms.find((v) => v.id === id)?.name ?? id);
  menu.replaceChildren(el('div', { class: 'menu-title' }, names.length > 1 ? `${names.length} virtual machines` : names[0]),
    el('div', { class: 'menu-title' }, t(state.manifest.configuration.nameKey)));
  for (const a of vmActions()) {
    if (a.trigger?.type === 'separator') { menu.append(el('hr')); continue; }
    const disabled = vmIds.length > 1 && !a.acceptsMultipleTargets;
    menu.append(el('button', { type: 'button', role: 'menuitem', disabled, 'data-action': a.id, onclick: () => runAction(a, vmIds) }, spriteIcon(a.icon?.name), t(a.labelKey)));
  }
  menu.hidden = false;
  const r = menu.getBoundingClientRect();
  menu.style.left = `${Math.min(x, innerWidth - r.width - 4)}px`;
  menu.style.top = `${Math.min(y, innerHeight - r.height - 4)}px`;
  menu.querySelector('button:not(:disabled)')?.focus();
}
function closeMenu() { $('#menu').hidden = true; }
document.addEventListener('click', (e) => { if (!$('#menu').contains(e.target)) closeMenu(); });
$('#menu').addEventListener('keydown', (e) => {
  const items = [...$('#menu').querySelectorAll('button:not(:disabled)')];
  const i = items.indexOf(document.activeElement);
  if (e.key === 'ArrowDown') { items[(i + 1) % items.length]?.focus(); e.preventDefault(); }
  if (e.key === 'ArrowUp') { items[(i - 1 + items.length) % items.length]?.focus(); e.preventDefault(); }
  if (e.key === 'Escape') { closeMenu(); $('#tree [aria-selected="true"]')?.focus(); }
});

// ---------- navigation ----------
function navigateTo({ targetViewId, objectId, customData } = {}) {
  const m = state.manifest;
  if (targetViewId === m.global?.view?.navigationId) { state.navigationData = customData ?? null; select('global'); return; }
  const vmId = objectId ? objectId.split(':')[3] : state.object !== 'global' ? state.object : state.vms[0]?.id;
  for (const tab of ['monitor', 'configure']) {
    const v = (m.objects.VirtualMachine[tab]?.views ?? []).find((x) => x.navigationId === targetViewId);
    if (v && vmId) { state.tab = tab; state.subview = v.navigationId; state.navigationData = customData ?? null; select(vmId); return; }
  }
  console.warn('navigateTo: unknown view', targetViewId);
}

// ---------- rendering ----------
function renderTree() {
  const m = state.manifest;
  const tree = $('#tree');
  const items = [];
  const globalItem = el('li', { role: 'treeitem', tabindex: '-1', 'data-id': 'global', 'aria-selected': String(state.object === 'global') },
    spriteIcon(m.configuration.icon.name), t(m.configuration.nameKey));
  items.push(globalItem);
  items.push(el('li', { role: 'treeitem', 'aria-expanded': 'true', class: 'muted' }, '▾ vcsim · Datacenter'));
  for (const vm of state.vms) {
    items.push(el('li', { role: 'treeitem', tabindex: '-1', 'data-id': vm.id, style: '--depth: 1', 'aria-selected': String(state.selected.has(vm.id)) }, vmIcon(vm), vm.name));
  }
  tree.replaceChildren(...items);
  (tree.querySelector('[aria-selected="true"]') ?? globalItem).tabIndex = 0;
}
$('#tree').addEventListener('click', (e) => {
  const li = e.target.closest('li[data-id]'); if (!li) return;
  const id = li.dataset.id;
  if (id !== 'global' && (e.ctrlKey || e.metaKey)) {
    state.selected.has(id) ? state.selected.delete(id) : state.selected.add(id);
    renderTree(); return;
  }
  select(id);
});
$('#tree').addEventListener('contextmenu', (e) => {
  const li = e.target.closest('li[data-id]'); if (!li || li.dataset.id === 'global') return;
  e.preventDefault();
  if (!state.selected.has(li.dataset.id)) { state.selected = new Set([li.dataset.id]); select(li.dataset.id); }
  openMenu(e.clientX, e.clientY, [...state.selected]);
});
$('#tree').addEventListener('keydown', (e) => {
  const items = [...$('#tree').querySelectorAll('li[data-id]')];
  const i = items.indexOf(document.activeElement);
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { items[Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))]?.focus(); e.preventDefault(); }
  if (e.key === 'Enter' && i >= 0) select(items[i].dataset.id);
  if ((e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10')) && i >= 0 && items[i].dataset.id !== 'global') {
    const r = items[i].getBoundingClientRect();
    if (!state.selected.has(items[i].dataset.id)) select(items[i].dataset.id);
    openMenu(r.left + 40, r.bottom, [...state.selected]); e.preventDefault();
  }
});

function select(id) {
  state.object = id;
  if (id !== 'global') { if (!state.selected.has(id) || state.selected.size > 1) state.selected = new Set([id]); }
  else state.selected = new Set();
  renderTree();
  renderMain();
  $(`#tree [data-id="${id}"]`)?.focus();
}

function renderMain() {
  const main = $('#main');
  forgetDetachedFrames();
  const m = state.manifest;
  if (state.object === 'global') {
    const nav = state.navigationData; state.navigationData = null;
    main.replaceChildren(el('h1', {}, spriteIcon(m.configuration.icon.name), t(m.configuration.nameKey)),
      pluginFrame(m.global.view.uri, { navigationData: nav, title: t(m.configuration.nameKey) }));
    return;
  }
  const vm = state.vms.find((v) => v.id === state.object);
  if (!vm) { main.replaceChildren(el('p', {}, 'Unknown VM')); return; }
  const ext = m.objects.VirtualMachine;
  const ctx = [{ id: urn(vm.id) }];
  const tabs = el('div', { class: 'tabs', role: 'tablist' }, ...['summary', 'monitor', 'configure'].map((tab) =>
    el('button', { type: 'button', role: 'tab', 'aria-selected': String(state.tab === tab), 'data-tab': tab, onclick: () => { state.tab = tab; state.subview = null; renderMain(); } },
      { summary: 'Summary', monitor: 'Monitor', configure: 'Configure' }[tab])));
  const actionsBtn = el('button', { type: 'button', 'aria-haspopup': 'menu', onclick: (e) => { e.stopPropagation(); const r = e.currentTarget.getBoundingClientRect(); openMenu(r.left, r.bottom, [vm.id]); } }, 'Actions ▾');
  const head = el('h1', {}, vmIcon(vm), vm.name, actionsBtn);
  let body;
  if (state.tab === 'summary') {
    const facts = el('div', { class: 'card' }, el('h3', {}, 'Virtual machine details'), el('dl', {},
      el('dt', {}, 'Power'), el('dd', {}, vm.powerState), el('dt', {}, 'Guest OS'), el('dd', {}, vm.guestOs),
      el('dt', {}, 'Host'), el('dd', {}, vm.host), el('dt', {}, 'VMware Tools'), el('dd', {}, vm.toolsRunning ? 'Running' : 'Not running'),
      el('dt', {}, 'Managed object'), el('dd', {}, vm.id)));
    const cards = [facts];
    if (ext.summary?.view) {
      const span = ext.summary.view.size ?? { widthSpan: 1, heightSpan: 1 };
      const f = pluginFrame(ext.summary.view.uri, { context: ctx, cls: 'card-frame', title: t(m.configuration.nameKey) });
      f.style.width = `${420 * span.widthSpan}px`; f.style.height = `${230 * span.heightSpan}px`;
      cards.push(el('div', { class: 'card' }, el('h3', {}, spriteIcon(m.configuration.icon.name), ' ', t(m.configuration.nameKey)), f));
    }
    body = el('div', { class: 'cards' }, ...cards);
  } else {
    const views = ext[state.tab]?.views ?? [];
    const current = views.find((v) => v.navigationId === state.subview) ?? views[0];
    const nav = el('div', { class: 'subnav' }, el('h3', {}, t(m.configuration.nameKey)), ...views.map((v) =>
      el('button', { type: 'button', 'aria-current': String(v === current), 'data-view': v.navigationId, onclick: () => { state.subview = v.navigationId; renderMain(); } }, t(v.labelKey))));
    const navData = state.navigationData; state.navigationData = null;
    body = el('div', { class: 'split' }, nav, current ? pluginFrame(current.uri, { context: ctx, navigationData: navData, title: t(current.labelKey) }) : el('p', {}, 'No views'));
  }
  main.replaceChildren(head, tabs, body);
}

// ---------- vCenter's panes: Recent Tasks, Events, Alarms (read from the lab through the service) ----------
const panes = { current: 'tasks', timer: null };
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString(state.locale) : '');
const statusCell = (text, cls) => el('td', { class: cls ? `st-${cls}` : '' }, text);
function table(head, rows, empty) {
  if (!rows.length) return el('p', { class: 'muted' }, empty);
  return el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, ...rows));
}
const PANES = {
  async tasks() {
    const list = await api(`/api/devhost/vcenter/tasks?locale=${state.locale.slice(0, 2)}`);
    return table(['Task name', 'Target', 'Status', 'Initiator', 'Start time', 'Completion time'], list.map((x) => el('tr', { 'data-task': x.key },
      el('td', {}, x.name), el('td', {}, x.entity ?? ''),
      statusCell(x.state === 'running' ? `Running ${x.progress ?? 0} %` : x.state === 'error' ? `Failed: ${x.error ?? ''}` : x.state === 'success' ? 'Completed' : x.state, x.state),
      el('td', {}, x.initiatedBy ?? ''), el('td', {}, fmtTime(x.startTime)), el('td', {}, fmtTime(x.completeTime)))), 'No recent tasks.');
  },
  async events() {
    const list = await api('/api/devhost/vcenter/events?max=100');
    return table(['Description', 'Type', 'Date time', 'Target', 'User'], list.map((x) => el('tr', { 'data-event': x.key, 'data-type': x.eventTypeId ?? x.type },
      statusCell(x.message, x.severity), el('td', {}, x.eventTypeId ?? x.type), el('td', {}, fmtTime(x.time)), el('td', {}, x.entity ?? ''), el('td', {}, x.user ?? ''))), 'No events.');
  },
  async alarms() {
    const list = await api('/api/devhost/vcenter/alarms');
    $('#alarm-count').textContent = list.length ? String(list.length) : '';
    return table(['Alarm name', 'Object', 'Status', 'Triggered', 'Acknowledged'], list.map((x) => el('tr', { 'data-alarm': x.alarm, 'data-entity': x.entity },
      el('td', {}, x.alarm), el('td', {}, x.entity), statusCell(x.status === 'red' ? 'Critical' : x.status === 'yellow' ? 'Warning' : x.status, x.status),
      el('td', {}, fmtTime(x.time)), el('td', {}, x.acknowledged ? 'Yes' : 'No'))), 'No triggered alarms.');
  },
};
async function renderPane() {
  if (!state.token) return;
  const name = panes.current;
  try {
    const body = await PANES[name]();
    if (panes.current === name) $('#pane').replaceChildren(body);
    if (name !== 'alarms') await api('/api/devhost/vcenter/alarms').then((l) => { $('#alarm-count').textContent = l.length ? String(l.length) : ''; });
  } catch (e) { $('#pane').replaceChildren(el('p', { class: 'error' }, `Cannot read vCenter's ${name}: ${e.message}`)); }
}
function showPane(name) {
  panes.current = name;
  for (const b of document.querySelectorAll('.pane-tabs [role="tab"]')) b.setAttribute('aria-selected', String(b.dataset.pane === name));
  $('#pane').setAttribute('aria-labelledby', `pane-tab-${name}`);
  void renderPane();
}
for (const b of document.querySelectorAll('.pane-tabs [role="tab"]')) b.addEventListener('click', () => showPane(b.dataset.pane));
$('#panes-toggle').addEventListener('click', (e) => {
  const collapsed = document.querySelector('.panes').classList.toggle('collapsed');
  e.currentTarget.setAttribute('aria-expanded', String(!collapsed));
  e.currentTarget.textContent = collapsed ? '▴' : '▾';
});
// Like the vSphere Client, the panes follow vCenter by themselves.
function startPanes() {
  clearInterval(panes.timer);
  panes.timer = setInterval(() => { if (!document.hidden && !document.querySelector('.panes').classList.contains('collapsed')) void renderPane(); }, 3000);
  void renderPane();
}

// ---------- global refresh (the vSphere Client's refresh button) ----------
async function refreshAll() {
  state.vms = await api('/api/vms');
  renderTree();
  for (const f of state.frames.values()) post(f, { sp: 'refresh' });
  void renderPane();
}
$('#refresh').addEventListener('click', () => { if (state.manifest) refreshAll().catch((e) => console.warn('refresh failed', e)); });

// ---------- theme / locale ----------
function applyTheme() {
  document.body.dataset.theme = state.theme;
  $('#theme').textContent = state.theme === 'dark' ? 'Light theme' : 'Dark theme';
  $('#theme').setAttribute('aria-pressed', String(state.theme === 'dark'));
}
$('#theme').addEventListener('click', () => {
  state.theme = state.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('devhost.theme', state.theme);
  applyTheme();
  for (const f of state.frames.values()) post(f, { sp: 'theme', theme: { name: state.theme } });
  if (state.manifest) renderTree();   // sprite icons have dark variants
});
$('#locale').addEventListener('change', (e) => {
  state.locale = e.target.value;
  localStorage.setItem('devhost.locale', state.locale);
  // The vSphere Client reloads on a locale change; here the tree and every plugin view are rebuilt.
  renderTree(); renderMain();
});

// ---------- start ----------
function showLogin(message = '') {
  const form = $('#login');
  const q = new URLSearchParams(location.search);
  form.username.value = q.get('user') ?? form.username.value;
  form.password.value = q.get('password') ?? form.password.value;
  $('#login-error').textContent = message;
  form.hidden = false;
  form.username.focus();
}
$('#login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  try { await login(form.username.value, form.password.value); form.hidden = true; await start(); }
  catch (err) { $('#login-error').textContent = err.message; }
});

async function start() {
  if (!state.token) {
    const q = new URLSearchParams(location.search);
    if (q.get('user') && q.get('password')) { try { await login(q.get('user'), q.get('password')); } catch (e) { return showLogin(e.message); } }
    else return showLogin();
  }
  $('#user').textContent = state.user ?? '';
  try {
    [state.manifest, state.vms] = await Promise.all([fetch(MANIFEST_URL).then((r) => r.json()), api('/api/vms')]);
  } catch (e) { if (state.token) showLogin(e.message); return; }
  const q = new URLSearchParams(location.search);
  const vm = q.get('vm');
  if (q.get('tab')) state.tab = q.get('tab');
  select(vm && state.vms.some((v) => v.id === vm) ? vm : 'global');
  if (q.get('pane') && PANES[q.get('pane')]) panes.current = q.get('pane');
  showPane(panes.current);
  startPanes();
}

$('#locale').value = state.locale;
applyTheme();
// For tests: drive the host without pixel-hunting.
window.__devhost = { state, select, openMenu, refreshAll, showPane, renderPane, runAction: (id, vmIds) => runAction(vmActions().find((a) => a.id === id), vmIds), closeModal, navigateTo };
start();
