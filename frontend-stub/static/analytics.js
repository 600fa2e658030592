// Google Analytics, only on pages whose server added this script: the server
// leaves it out when the browser sends Do Not Track.
const data = JSON.parse(document.getElementById('page-data').textContent);
if (data.gaTrackingId) {
  window.dataLayer = window.dataLayer || [];
  window.gtag = function gtag() { window.dataLayer.push(arguments); };
  window.gtag('js', new Date());
  window.gtag('config', data.gaTrackingId, { anonymize_ip: true });
}
