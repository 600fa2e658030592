// Placeholder: the editor SPA is being written.
const data = JSON.parse(document.getElementById('page-data').textContent);
document.getElementById('app').textContent = `Iodide: ${data.page}`;
