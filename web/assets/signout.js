// Sign-out for pages without the app script (the organisation list).
'use strict';
(function () {
  const b = document.getElementById('signout');
  if (!b || window.FT) return;
  b.addEventListener('click', async () => {
    await fetch('/auth/signout', { method: 'POST', headers: { 'X-CSRF-Token': b.dataset.csrf } });
    location.href = '/signin';
  });
})();
