// Runs first (a plain script: the service's CSP forbids inline scripts). Decides the runtime mode:
// inside the vSphere Client the plugin views run in iframes and the client serves its JS API at
// /api/ui/htmlClientSdk.js; standalone (https://host/ui/) loads nothing. ?mode=plugin|standalone overrides.
(function () {
  var m = /[?&]mode=(plugin|standalone)/.exec(location.search);
  var framed = false;
  try { framed = window.self !== window.top; } catch (e) { framed = true; }
  window.__SP_MODE__ = m ? m[1] : (framed ? 'plugin' : 'standalone');
  // Parser-inserted, so it runs before base.js and the app bundle.
  if (window.__SP_MODE__ === 'plugin') document.write('<script src="/api/ui/htmlClientSdk.js"><\/script>');
})();
