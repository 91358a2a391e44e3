// Runs after the SDK script (if any): sets <base href> at runtime — the proxied plugin server origin + /ui/
// inside vCenter, else this document's folder — and falls back to standalone when the SDK did not load.
(function () {
  var base = location.pathname.replace(/[^/]*$/, '');
  var sdk = window.htmlClientSdk;
  if (window.__SP_MODE__ === 'plugin' && !sdk) window.__SP_MODE__ = 'standalone';
  if (sdk && typeof sdk.getProxiedPluginServerOrigin === 'function') {
    try { var o = sdk.getProxiedPluginServerOrigin(); if (o) base = o.replace(/\/$/, '') + '/ui/'; } catch (e) { /* keep the folder */ }
  }
  var el = document.createElement('base');
  el.href = base;
  document.head.insertBefore(el, document.head.firstChild);
  document.documentElement.setAttribute('data-mode', window.__SP_MODE__);
})();
