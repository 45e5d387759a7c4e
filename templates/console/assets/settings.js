// Settings page: fills the server-rendered form from GET /tenants/{slug}/settings (and the
// tenant record for access-token lifetime, algorithm and rotation interval), sends only what
// changed as a JSON merge patch (RFC 7396), previews branding live next to the live look, stages
// branding as a draft (save, publish, discard), lists the branding versions and restores one,
// and manages the custom domain. Uses only window.Console (console.js) and the admin API.
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const form = $('settings-form');
  const errors = $('settings-errors');
  const varsBody = $('css-variables');
  const isOperator = ctx.user && ctx.user.role === 'operator';
  const slug = encodeURIComponent(ctx.tenant);
  let settings = null; // the document as last read from the server
  let tenant = null; // the tenant record as last read
  let draft = null; // the branding draft ({branding, updated_at, updated_by}) or null

  const { failure } = Console;

  const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const setIn = (obj, path, value) => {
    const keys = path.split('.');
    let o = obj;
    for (const k of keys.slice(0, -1)) o = (o[k] = o[k] || {});
    o[keys[keys.length - 1]] = value;
  };
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  /** The named form controls, grouped by name (checkbox groups share one). */
  function fields() {
    const byName = new Map();
    for (const el of form.elements) {
      if (!el.name || !el.dataset.type) continue;
      if (!byName.has(el.name)) byName.set(el.name, []);
      byName.get(el.name).push(el);
    }
    return byName;
  }

  /** Where a field's value lives: the tenant record, the branding draft being edited, or the
   * settings document. */
  const source = (name) => {
    if (name.startsWith('tenant.')) return [tenant, name.slice(7)];
    if (draft && name.startsWith('branding.')) return [{ branding: draft.branding }, name];
    return [settings, name];
  };

  /** The branding the editor started from: the draft when there is one, else the live one. */
  const editedBranding = () => (draft ? draft.branding : settings.branding) || {};

  // ---- filling -------------------------------------------------------------------------------

  function fill() {
    for (const [name, els] of fields()) {
      const [doc, path] = source(name);
      const value = get(doc, path);
      const type = els[0].dataset.type;
      // Only the fields the server's document knows; optional ones may be absent (= unset).
      const known = value !== undefined || els[0].hasAttribute('data-optional');
      const wrapper = els[0].closest('.field');
      if (wrapper) wrapper.hidden = !known;
      if (!known) continue;
      if (type === 'bool') els[0].checked = !!value;
      else if (type === 'checks') els.forEach((el) => { el.checked = (value || []).includes(el.value); });
      else if (type === 'lines') els[0].value = (value || []).join('\n');
      else els[0].value = value == null ? '' : String(value);
      els.forEach((el) => el.removeAttribute('aria-invalid'));
    }
    fillVariables(editedBranding().css_variables || {});
    syncPickers();
    updatePreview();
    paint('branding-live', settings.branding || {});
    showDraftState();
  }

  function variableRow(name, value) {
    const n = varsBody.children.length + 1;
    const remove = Console.el('button', {
      type: 'button', class: 'danger small', text: 'Remove', 'data-write': true, 'aria-label': `Remove CSS variable ${name || n}`,
      onclick: () => { row.remove(); updatePreview(); },
    });
    const nameInput = Console.el('input', { type: 'text', class: 'css-var-name', 'aria-label': `Name of CSS variable ${n}`, spellcheck: 'false' });
    const valueInput = Console.el('input', { type: 'text', class: 'css-var-value', 'aria-label': `Value of CSS variable ${n}`, spellcheck: 'false' });
    nameInput.value = name;
    valueInput.value = value;
    const row = Console.el('tr', {},
      Console.el('td', {}, nameInput), Console.el('td', {}, valueInput), Console.el('td', {}, remove));
    return row;
  }

  function fillVariables(vars) {
    varsBody.replaceChildren(...Object.entries(vars).map(([k, v]) => variableRow(k, v)));
  }

  /** The CSS variables table as an object, names without a leading `--`. */
  function readVariables() {
    const out = {};
    for (const row of varsBody.querySelectorAll('tr')) {
      const name = row.querySelector('.css-var-name').value.trim().replace(/^--/, '');
      const value = row.querySelector('.css-var-value').value.trim();
      if (name) out[name] = value;
    }
    return out;
  }

  $('add-css-variable').addEventListener('click', () => {
    const row = variableRow('', '');
    varsBody.appendChild(row);
    row.querySelector('input').focus();
  });

  // ---- branding preview ----------------------------------------------------------------------

  const colourOk = (v) => !v || (window.CSS && CSS.supports('color', v));

  function syncPickers() {
    document.querySelectorAll('input[data-pick-for]').forEach((pick) => {
      const text = $(pick.dataset.pickFor);
      if (/^#[0-9a-f]{6}$/i.test(text.value.trim())) pick.value = text.value.trim().toLowerCase();
    });
  }
  document.querySelectorAll('input[data-pick-for]').forEach((pick) => {
    pick.addEventListener('input', () => {
      $(pick.dataset.pickFor).value = pick.value;
      updatePreview();
    });
  });

  /** The branding the editor holds now, as the admin API takes it (empty fields unset). */
  function readBranding() {
    const text = (id) => $(id).value.trim() || null;
    return {
      display_name: text('f-display-name'),
      logo_url: text('f-logo'),
      primary_color: text('f-primary'),
      background_color: text('f-background'),
      css_variables: readVariables(),
    };
  }

  /**
   * Restyles the swatch `id` (with its `{id}-name` and `{id}-logo`) to show branding `b`,
   * through the CSSOM (style attributes in markup are refused by the CSP).
   */
  function paint(id, b) {
    const box = $(id);
    // Drop the previous custom properties, then set the current ones.
    for (const prop of Array.from(box.style)) if (prop.startsWith('--')) box.style.removeProperty(prop);
    for (const [name, value] of Object.entries(b.css_variables || {})) {
      if (/^[a-z][a-z0-9-]*$/.test(name)) box.style.setProperty(`--${name}`, value);
    }
    const primary = b.primary_color || '';
    const background = b.background_color || '';
    box.style.setProperty('--preview-accent', primary && colourOk(primary) ? primary : '#1f6feb');
    box.style.setProperty('--preview-bg', background && colourOk(background) ? background : '#f5f6fa');
    const name = b.display_name || (tenant && tenant.name) || ctx.tenant;
    $(`${id}-name`).textContent = name;
    const logo = $(`${id}-logo`);
    const url = b.logo_url || '';
    if (/^(https:|data:image\/)/.test(url)) {
      logo.src = url;
      logo.alt = name;
      logo.hidden = false;
    } else {
      logo.removeAttribute('src');
      logo.hidden = true;
    }
  }

  /** Restyles the swatch of the branding being edited and marks colours the browser refuses. */
  function updatePreview() {
    const primary = $('f-primary').value.trim();
    const background = $('f-background').value.trim();
    for (const [input, ok] of [[$('f-primary'), colourOk(primary)], [$('f-background'), colourOk(background)]]) {
      if (ok) input.removeAttribute('aria-invalid'); else input.setAttribute('aria-invalid', 'true');
    }
    paint('branding-preview', readBranding());
  }
  $('section-branding').addEventListener('input', updatePreview);

  // ---- saving --------------------------------------------------------------------------------

  /** Reads the form into {settings patch, tenant patch}; throws [field, message] on bad input. */
  function collect() {
    const patch = {};
    const tenantPatch = {};
    for (const [name, els] of fields()) {
      const el = els[0];
      const wrapper = el.closest('.field');
      if (wrapper && wrapper.hidden) continue;
      // A branding draft goes live only when published: Save settings leaves it alone.
      if (draft && name.startsWith('branding.')) continue;
      const type = el.dataset.type;
      let value;
      if (type === 'bool') value = el.checked;
      else if (type === 'checks') value = els.filter((e) => e.checked).map((e) => e.value);
      else if (type === 'lines') value = el.value.split('\n').map((l) => l.trim()).filter(Boolean);
      else if (type === 'int') {
        const raw = el.value.trim();
        if (raw === '' && el.hasAttribute('data-optional')) value = null;
        else if (!/^-?\d+$/.test(raw)) throw [el, `${el.labels[0] ? el.labels[0].textContent : name}: enter a whole number`];
        else value = Number(raw);
      } else {
        const raw = el.value.trim();
        value = raw === '' && el.hasAttribute('data-optional') ? null : raw;
      }
      const [doc, path] = source(name);
      const before = get(doc, path);
      if (same(value, before === undefined ? null : before)) continue;
      if (name.startsWith('tenant.')) tenantPatch[path] = value;
      else setIn(patch, path, value); // null removes the field: its default applies (RFC 7396 §1)
    }
    if (!draft) {
      const before = (settings.branding && settings.branding.css_variables) || {};
      const after = readVariables();
      const vars = {};
      for (const k of Object.keys(before)) if (!(k in after)) vars[k] = null;
      for (const [k, v] of Object.entries(after)) if (before[k] !== v) vars[k] = v;
      if (Object.keys(vars).length) setIn(patch, 'branding.css_variables', vars);
    }
    return [patch, tenantPatch];
  }

  function clearErrors() {
    Console.formError(errors, '');
    form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
    $('css-variables-field').classList.remove('invalid');
  }

  /** Shows a refusal next to the form and marks the field the message names, if any. */
  function showError(message, field) {
    Console.formError(errors, message);
    let target = field || null;
    if (!target) {
      // Server messages name the field: `tokens.code_ttl_secs must…`, `session: idle_secs ≥ 60…`,
      // or, for the tenant record, the bare `access_token_ttl must…`.
      const names = Array.from(fields().keys());
      const word = (w) => new RegExp(`(^|[^a-z_.])${w}([^a-z_]|$)`).test(message);
      const hit = names.find((n) => message.includes(n))
        || names.find((n) => !n.startsWith('tenant.') && message.includes(`${n.split('.')[0]}:`) && word(n.split('.')[1]))
        || names.find((n) => n.startsWith('tenant.') && word(n.slice(7)));
      if (hit) target = form.elements[hit] instanceof RadioNodeList ? form.elements[hit][0] : form.elements[hit];
      else if (message.includes('branding.css_variables')) {
        target = varsBody.querySelector('input') || $('add-css-variable');
        $('css-variables-field').classList.add('invalid');
      }
    }
    if (target) {
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-errormessage', 'settings-errors');
      target.focus();
    }
    Console.notify(message, 'error');
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (ctx.readOnly) return;
    clearErrors();
    let patch;
    let tenantPatch;
    try {
      [patch, tenantPatch] = collect();
    } catch (e) {
      if (Array.isArray(e)) { showError(e[1], e[0]); return; }
      throw e;
    }
    if (!Object.keys(patch).length && !Object.keys(tenantPatch).length) {
      Console.notify('Nothing changed.', 'ok');
      return;
    }
    if (Object.keys(tenantPatch).length) {
      const res = await Console.api('PATCH', `/tenants/${slug}`, tenantPatch);
      if (res.status !== 200) { showError(failure(res, 'Not saved')); return; }
      tenant = res.body;
    }
    if (Object.keys(patch).length) {
      const res = await Console.api('PATCH', `/tenants/${slug}/settings`, patch);
      if (res.status !== 200) { showError(failure(res, 'Not saved')); return; }
      settings = res.body;
    }
    fill();
    if (patch.branding) loadBranding();
    Console.notify('Settings saved.', 'ok');
  });

  $('revert-settings').addEventListener('click', () => { clearErrors(); fill(); });

  // ---- branding drafts, publication and versions ---------------------------------------------

  const brandingErrors = $('branding-errors');

  /** Says whether the editor holds the draft or the live branding, and offers what fits. */
  function showDraftState() {
    const state = $('branding-draft-state');
    if (draft) {
      state.textContent = `Editing the unpublished branding draft, saved ${Console.utc(draft.updated_at)}`
        + `${draft.updated_by ? ` by ${draft.updated_by}` : ''}. Users see the live look until it is published.`;
    } else {
      state.textContent = 'No branding draft: you are editing the live look. Save draft to stage a change.';
    }
    $('discard-branding-draft').hidden = !draft;
  }

  /** Shows a refused branding on the field the server names, next to the branding section. */
  function brandingRefused(res, what) {
    const message = failure(res, what);
    Console.formError(brandingErrors, message);
    const names = Array.from(fields().keys()).filter((n) => n.startsWith('branding.'));
    const hit = names.find((n) => message.includes(n));
    const target = hit ? form.elements[hit] : (message.includes('branding.css_variables') && varsBody.querySelector('input'));
    if (target) {
      target.setAttribute('aria-invalid', 'true');
      target.setAttribute('aria-errormessage', 'branding-errors');
      target.focus();
    }
    Console.notify(message, 'error');
  }

  /** Saves the editor as the draft; the saved draft, or null when refused. */
  async function saveDraft() {
    clearErrors();
    Console.formError(brandingErrors, '');
    const res = await Console.api('PUT', `/tenants/${slug}/branding/draft`, readBranding());
    if (res.status !== 200) { brandingRefused(res, 'Draft not saved'); return null; }
    draft = res.body;
    showDraftState();
    return draft;
  }

  function renderVersions(items) {
    const list = $('branding-versions');
    if (!items.length) {
      list.replaceChildren(Console.el('li', { class: 'muted', text: 'No published branding yet.' }));
      return;
    }
    list.replaceChildren(...items.map((v) => {
      const parts = [Console.el('strong', { text: `Version ${v.version}` })];
      if (v.live) parts.push(Console.el('span', { class: 'badge', text: 'live' }));
      const by = v.created_by ? ` by ${v.created_by}` : ' (the look before the first publication)';
      parts.push(Console.el('span', { class: 'muted', text: ` ${Console.utc(v.created_at)}${by}` }));
      if (!v.live) {
        parts.push(Console.el('button', {
          type: 'button', class: 'secondary small', 'data-restore-branding': String(v.version), 'data-write': true,
          text: 'Restore', 'aria-label': `Restore branding version ${v.version}`, onclick: () => restore(v.version),
        }));
      }
      return Console.el('li', { 'data-version': String(v.version), class: v.live ? 'live' : 'past' }, ...parts);
    }));
  }

  /** Reads the draft and the versions (the settings document is read separately). */
  async function loadBranding() {
    const [d, v] = await Promise.all([
      Console.api('GET', `/tenants/${slug}/branding/draft`),
      Console.api('GET', `/tenants/${slug}/branding/versions`),
    ]);
    if (d.status === 200) draft = d.body;
    else if (d.status === 404) draft = null;
    else Console.notify(failure(d, 'Branding draft unavailable'), 'error');
    if (v.status === 200) renderVersions(v.body.items || []);
    else Console.formError(brandingErrors, failure(v, 'Branding versions unavailable'));
  }

  /** After a publication: the live look is `b`; the editor shows what is left. */
  async function published(b, notice) {
    settings.branding = b;
    await loadBranding();
    fill();
    Console.notify(notice, 'ok');
  }

  async function restore(n) {
    const ok = await Console.confirmAction(`Publish branding version ${n} again? Users see it at once.`, 'Restore');
    if (!ok) return;
    const res = await Console.api('POST', `/tenants/${slug}/branding/versions/${n}/restore`);
    if (res.status !== 201) { brandingRefused(res, 'Not restored'); return; }
    await published(res.body.branding, `Branding version ${n} restored as version ${res.body.version}.`);
  }

  $('save-branding-draft').addEventListener('click', async () => {
    if (ctx.readOnly) return;
    if (await saveDraft()) Console.notify('Branding draft saved. Users still see the live look.', 'ok');
  });

  $('publish-branding').addEventListener('click', async () => {
    if (ctx.readOnly) return;
    // What is published is what the editor shows: it is saved as the draft first.
    if (!(await saveDraft())) return;
    const res = await Console.api('POST', `/tenants/${slug}/branding/publish`);
    if (res.status !== 201) { brandingRefused(res, 'Not published'); return; }
    await published(res.body.branding, `Branding version ${res.body.version} published.`);
  });

  $('discard-branding-draft').addEventListener('click', async () => {
    const ok = await Console.confirmAction('Discard the branding draft? The editor goes back to the live look.', 'Discard draft');
    if (!ok) return;
    const res = await Console.api('DELETE', `/tenants/${slug}/branding/draft`);
    if (res.status !== 204 && res.status !== 404) { brandingRefused(res, 'Not discarded'); return; }
    draft = null;
    Console.formError(brandingErrors, '');
    fill();
    Console.notify('Branding draft discarded.', 'ok');
  });

  // ---- custom domain -------------------------------------------------------------------------

  const domainErrors = $('domain-errors');
  const domainMessage = (message) => Console.formError(domainErrors, message);

  function showDomain(view) {
    const dl = $('domain-status');
    const row = (term, ...desc) => [Console.el('dt', { text: term }), Console.el('dd', {}, ...desc)];
    if (!view) {
      dl.replaceChildren(...row('Status', 'No custom domain: the tenant is served at its path only.'));
      $('verify-domain').hidden = true;
      $('remove-domain').hidden = true;
      return;
    }
    $('domain').value = view.domain;
    const items = [
      ...row('Domain', Console.el('code', { text: view.domain })),
      ...row('Status', Console.el('span', { class: `badge ${view.status}`, text: view.status }),
        view.verified_at ? ` since ${Console.utc(view.verified_at)}` : ''),
    ];
    if (view.verification) {
      items.push(...row('DNS TXT record name', Console.el('code', { text: view.verification.name })),
        ...row('DNS TXT record value', Console.el('code', { text: view.verification.value })));
    }
    if (view.issuer) items.push(...row('Issuer', Console.el('code', { text: view.issuer })));
    dl.replaceChildren(...items);
    $('verify-domain').hidden = view.status === 'verified';
    $('remove-domain').hidden = false;
  }

  async function loadDomain() {
    const res = await Console.api('GET', `/tenants/${slug}/domain`);
    if (res.status === 200) showDomain(res.body);
    else if (res.status === 404) showDomain(null);
    else domainMessage(failure(res, 'Custom domain unavailable'));
  }

  $('domain-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const domain = $('domain').value.trim();
    if (!domain) { domainMessage('Enter a host name such as login.example.com.'); $('domain').focus(); return; }
    const res = await Console.api('PUT', `/tenants/${slug}/domain`, { domain });
    if (res.status !== 200) { Console.refused(domainErrors, failure(res, 'Domain not set')); return; }
    domainMessage('');
    showDomain(res.body);
    Console.notify(`${res.body.domain} is pending: publish the TXT record, then ask an operator to verify it.`, 'ok');
  });

  $('verify-domain').addEventListener('click', async () => {
    const res = await Console.api('POST', `/tenants/${slug}/domain/verify`);
    if (res.status === 403) {
      Console.refused(domainErrors, isOperator ? failure(res, 'Not verified')
        : 'Only an operator can verify a domain, after checking its DNS TXT record. Send them the record above.');
      return;
    }
    if (res.status !== 200) { Console.refused(domainErrors, failure(res, 'Not verified')); return; }
    domainMessage('');
    showDomain(res.body);
    Console.notify(`${res.body.domain} is verified; the tenant's issuer is now ${res.body.issuer || 'on it'}.`, 'ok');
  });

  $('remove-domain').addEventListener('click', async () => {
    const ok = await Console.confirmAction('Remove the custom domain? Its issuer stops working at once: clients configured with it must be changed.', 'Remove domain');
    if (!ok) return;
    const res = await Console.api('DELETE', `/tenants/${slug}/domain`);
    if (res.status !== 204 && res.status !== 200) { Console.refused(domainErrors, failure(res, 'Not removed')); return; }
    domainMessage('');
    $('domain').value = '';
    showDomain(null);
    Console.notify('Custom domain removed.', 'ok');
  });

  // ---- start ---------------------------------------------------------------------------------

  (async () => {
    const [s, t] = await Promise.all([
      Console.api('GET', `/tenants/${slug}/settings`),
      Console.api('GET', `/tenants/${slug}`),
    ]);
    if (s.status !== 200) { Console.notify(failure(s, 'Settings unavailable'), 'error'); return; }
    settings = s.body;
    if (t.status === 200) tenant = t.body;
    else Console.notify(failure(t, 'Tenant record unavailable'), 'error');
    await loadBranding();
    fill();
    loadDomain();
  })();
});
