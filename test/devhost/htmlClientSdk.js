// Stand-in for the vSphere Client's /api/ui/htmlClientSdk.js, used by test/devhost (demo and browser tests only).
// It implements the calls Stillpoint uses and talks to the dev host (the parent window) with postMessage:
//   frame → host: {sp: 'init'} {sp: 'session'} {sp: 'backendInfo'} {sp: 'modal.open'} {sp: 'modal.close'} {sp: 'navigateTo'}
//   host → frame: {sp: 'init', state} {sp: 'reply', reqId, value} {sp: 'theme', theme} {sp: 'refresh'} {sp: 'modal.closed', reqId, data}
// Synchronous getters (getContextObjects, getTheme, getClientLocale, getCustomData, getNavigationData) read the
// state the host sent in reply to initialize(). The frame's id is its window.name, set by the host.
(function () {
  'use strict';
  var host = window.parent !== window ? window.parent : null;
  var state = { contextObjects: [], theme: 'light', locale: 'en-US', customData: null, navigationData: null };
  var initialized = false;
  var initCallbacks = [];
  var themeCallbacks = [];
  var refreshCallbacks = [];
  var pending = {};
  var seq = 0;

  function send(msg) {
    msg.frameId = window.name;
    if (host) host.postMessage(msg, location.origin);
  }
  function request(type, payload, cb) {
    var reqId = 'r' + (++seq);
    pending[reqId] = cb;
    var msg = payload || {};
    msg.sp = type; msg.reqId = reqId;
    send(msg);
    return reqId;
  }
  function finishInit() {
    if (initialized) return;
    initialized = true;
    var cbs = initCallbacks; initCallbacks = [];
    cbs.forEach(function (cb) { try { cb(); } catch (e) { console.error(e); } });
  }

  window.addEventListener('message', function (ev) {
    if (ev.origin !== location.origin || !ev.data || typeof ev.data.sp !== 'string') return;
    var m = ev.data;
    if (m.sp === 'init') { state = m.state; finishInit(); }
    else if (m.sp === 'reply' && pending[m.reqId]) { var cb = pending[m.reqId]; delete pending[m.reqId]; cb(m.value); }
    else if (m.sp === 'theme') {
      state.theme = m.theme.name;
      themeCallbacks.forEach(function (cb) { try { cb({ name: m.theme.name }); } catch (e) { console.error(e); } });
    }
    else if (m.sp === 'refresh') {
      refreshCallbacks.forEach(function (cb) { try { cb(); } catch (e) { console.error(e); } });
    }
    else if (m.sp === 'modal.closed' && pending[m.reqId]) { var onClosed = pending[m.reqId]; delete pending[m.reqId]; onClosed(m.data); }
  });

  window.htmlClientSdk = {
    initialize: function (cb) {
      if (typeof cb === 'function') { if (initialized) setTimeout(cb); else initCallbacks.push(cb); }
      if (!host) { setTimeout(finishInit); return; }
      send({ sp: 'init' });
      setTimeout(finishInit, 3000); // no dev host answering: go on with defaults
    },
    isInitialized: function () { return initialized; },
    // The dev host, the UI and the API share one origin (the Stillpoint service).
    getProxiedPluginServerOrigin: function () { return location.origin; },
    app: {
      getContextObjects: function () { return state.contextObjects.slice(); },
      getTheme: function () { return { name: state.theme }; },
      getClientLocale: function () { return state.locale; },
      getClientInfo: function () { return { type: 'devhost', version: '8.0.3' }; },
      getNavigationData: function () { return state.navigationData; },
      getSessionInfo: function (cb) { request('session', {}, function (v) { cb(v); }); },
      getPluginBackendInfo: function (cb) { request('backendInfo', {}, function (v) { cb(v); }); },
      navigateTo: function (options) { send({ sp: 'navigateTo', options: JSON.parse(JSON.stringify(options || {})) }); },
    },
    modal: {
      open: function (options) {
        var opts = {};
        Object.keys(options || {}).forEach(function (k) { if (typeof options[k] !== 'function') opts[k] = options[k]; });
        var onClosed = options && options.onClosed;
        request('modal.open', { options: JSON.parse(JSON.stringify(opts)) }, function (data) { if (typeof onClosed === 'function') onClosed(data); });
      },
      close: function (data) { send({ sp: 'modal.close', data: data === undefined ? null : JSON.parse(JSON.stringify(data)) }); },
      setOptions: function (options) { send({ sp: 'modal.setOptions', options: JSON.parse(JSON.stringify(options || {})) }); },
      getCustomData: function () { return state.customData; },
    },
    event: {
      onThemeChanged: function (cb) { themeCallbacks.push(cb); },
      onGlobalRefresh: function (cb) { refreshCallbacks.push(cb); },
    },
  };
})();
