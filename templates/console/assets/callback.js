// Console sign-in callback: redeems the authorization code (RFC 6749 §4.1.3, PKCE RFC 7636 §4.5)
// and returns to the page that started the sign-in.
'use strict';

Console.finishSignIn().catch((e) => {
  const status = document.getElementById('callback-status');
  if (status) status.textContent = 'The sign-in could not be completed.';
  Console.notify(`Sign-in failed: ${e.message}`, 'error');
  const again = Console.el('p', {}, Console.el('a', { href: document.body.dataset.base, text: 'Try again' }));
  document.getElementById('main').append(again);
});
