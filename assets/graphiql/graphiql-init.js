// Bootstrap for the vendored GraphiQL playground served at GET /graphiql.
// Kept in a separate file (no inline <script>) so the page works under
// Content-Security-Policy: script-src 'self'.
(function () {
  'use strict';

  // Full-page layout. Set through the CSSOM (element.style), which CSP does
  // not restrict, so no inline <style> block / style attribute is needed.
  var html = document.documentElement;
  var body = document.body;
  var container = document.getElementById('graphiql');
  html.style.height = '100%';
  body.style.height = '100%';
  body.style.margin = '0';
  body.style.overflow = 'hidden';
  container.style.height = '100vh';

  // Subscriptions go over a WebSocket to the same endpoint, with the graphql-ws
  // client that graphiql.min.js bundles (see LICENSES.md). The session
  // cookie goes with the upgrade, as with the page's other requests.
  var wsScheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({
    url: '/api/graphql',
    subscriptionUrl: wsScheme + '//' + window.location.host + '/api/graphql',
    headers: { 'X-Requested-With': 'graphiql' },
  });

  var root = ReactDOM.createRoot(container);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
    })
  );
})();
