// Templates page: pick a page or e-mail template, edit its source with a live preview (rendered
// by the admin API with sample data, and with the unpublished branding draft when there is
// one), save drafts, publish, browse versions and roll back. Uses only window.Console
// (console.js) and the admin API's template and branding routes.
'use strict';

Console.ready.then((ctx) => {
  const $ = (id) => document.getElementById(id);
  const select = $('template-name');
  const source = $('source');
  const gutter = $('source-gutter');
  const problem = $('problem');
  const preview = $('preview');
  const previewStatus = $('preview-status');
  const liveVersion = $('live-version');
  const draftState = $('draft-state');
  const versions = $('versions');
  const base = `/tenants/${encodeURIComponent(ctx.tenant)}/templates`;
  const path = (name, rest) => `${base}/${encodeURIComponent(name)}${rest || ''}`;
  /** Edits not yet saved, per template, so switching templates loses nothing. */
  const unsaved = new Map();
  let current = null; // {name, hasDraft, saved (source last saved or loaded)}
  let previewSeq = 0;
  /** The unpublished branding draft, which previews use so both drafts are seen together. */
  let brandingDraft = null;
  let debounce = 0;

  /** Shows a failed call: a role message for 403, else the RFC error text. */
  const fail = (res, what) => Console.notify(Console.failure(res, what), 'error');

  // ---- line-number gutter -------------------------------------------------------------------

  let gutterLines = 0;
  let problemLine = 0; // line of the current compile error, 0 when none
  function renderGutter() {
    const lines = source.value.split('\n').length;
    if (lines !== gutterLines) {
      const frag = document.createDocumentFragment();
      for (let i = 1; i <= lines; i += 1) frag.appendChild(Console.el('div', { text: String(i) }));
      gutter.replaceChildren(frag);
      gutterLines = lines;
    }
    gutter.querySelectorAll('.problem-line').forEach((el) => el.classList.remove('problem-line'));
    if (problemLine && gutter.children[problemLine - 1]) gutter.children[problemLine - 1].classList.add('problem-line');
    gutter.scrollTop = source.scrollTop;
  }
  source.addEventListener('scroll', () => { gutter.scrollTop = source.scrollTop; });

  /** Places the caret at line/column (1-based) and focuses the editor. */
  function goTo(line, column) {
    const lines = source.value.split('\n');
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    source.focus();
    source.setSelectionRange(offset, offset);
  }

  // ---- compile problems ----------------------------------------------------------------------

  function showProblem(p) {
    if (!p) {
      problem.hidden = true;
      problem.replaceChildren();
      source.removeAttribute('aria-invalid');
      problemLine = 0;
      renderGutter();
      return;
    }
    const where = p.line ? `line ${p.line}${p.column ? `, column ${p.column}` : ''}` : '';
    const parts = [Console.el('strong', { text: 'Compile error' + (where ? ` at ${where}` : '') + ': ' }),
      Console.el('span', { text: p.message || p.error_description || 'the template was refused' })];
    if (p.line) {
      parts.push(' ', Console.el('button', { type: 'button', class: 'link', text: 'Go to line', onclick: () => goTo(p.line, p.column) }));
    }
    problem.replaceChildren(...parts);
    problem.hidden = false;
    source.setAttribute('aria-invalid', 'true');
    problemLine = p.line || 0;
    renderGutter();
  }

  /** The `{message, line, column}` of an `invalid_template` 400, else null. */
  const problemOf = (res) => (res.status === 400 && res.body && res.body.error === 'invalid_template'
    ? { message: res.body.message || res.body.error_description, line: res.body.line, column: res.body.column }
    : null);

  // ---- preview -------------------------------------------------------------------------------

  /**
   * The preview document is shown as srcdoc, which inherits this page's CSP (style-src 'self'
   * 'nonce-…', set by console.rs). The API renders the preview's <style> with the nonce it is
   * given (`?nonce=`, ctx.styleNonce), so the page's styles apply; the sandbox allows no script.
   * What the CSP still refuses (style attributes, which e-mails use, or a <style> a template
   * adds without the nonce) is applied through the CSSOM from this page, which the CSP does not
   * govern; that needs the frame same-origin (sandbox allow-same-origin, still no allow-scripts).
   */
  function applyPreviewStyles() {
    let doc;
    try { doc = preview.contentDocument; } catch (_) { return; }
    if (!doc || !doc.documentElement) return;
    const win = preview.contentWindow;
    const refused = Array.from(doc.querySelectorAll('style')).filter((s) => !s.sheet);
    const css = refused.map((s) => s.textContent).join('\n');
    if (css && win && win.CSSStyleSheet && 'adoptedStyleSheets' in doc) {
      try {
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync(css);
        doc.adoptedStyleSheets = [sheet];
      } catch (_) { /* an unparsable sheet previews unstyled */ }
    }
    doc.querySelectorAll('[style]').forEach((el) => { el.style.cssText = el.getAttribute('style'); });
  }
  preview.addEventListener('load', applyPreviewStyles);

  async function renderPreview() {
    if (!current) return;
    const seq = ++previewSeq;
    const name = current.name;
    // An empty raw body would preview the live version, so an empty source goes as JSON; so
    // does a source previewed with the branding draft.
    const body = brandingDraft ? { source: source.value, branding: brandingDraft }
      : (source.value === '' ? { source: '' } : source.value);
    const query = ctx.styleNonce ? `?nonce=${encodeURIComponent(ctx.styleNonce)}` : '';
    const res = await Console.api('POST', path(name, `/preview${query}`), body, { contentType: 'text/x-handlebars' });
    if (seq !== previewSeq || !current || current.name !== name) return; // a newer edit won
    if (res.status === 200) {
      showProblem(null);
      preview.srcdoc = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      previewStatus.textContent = `Preview updated ${new Date().toLocaleTimeString()}`
        + `${brandingDraft ? ', with the unpublished branding draft (see Settings)' : ''}.`;
      return;
    }
    const p = problemOf(res);
    if (p) {
      showProblem(p);
      previewStatus.textContent = 'The preview shows the last version that compiled.';
    } else if (res.status === 403) {
      previewStatus.textContent = `Preview unavailable: ${Console.errorText(res.body)}`;
    } else {
      previewStatus.textContent = '';
      fail(res, 'Preview failed');
    }
  }

  function schedulePreview() {
    clearTimeout(debounce);
    debounce = setTimeout(renderPreview, 300);
  }

  function markDirty() {
    if (!current) return;
    const dirty = source.value !== current.saved;
    if (dirty) unsaved.set(current.name, source.value);
    else unsaved.delete(current.name);
    showState();
  }

  source.addEventListener('input', () => {
    renderGutter();
    markDirty();
    schedulePreview();
  });

  // ---- state and versions --------------------------------------------------------------------

  function showState() {
    if (!current) return;
    const live = current.liveVersion != null ? `Live: version ${current.liveVersion}` : (current.overridden ? 'Live: custom version' : 'Live: default');
    liveVersion.textContent = live;
    liveVersion.dataset.version = current.liveVersion != null ? String(current.liveVersion) : '';
    const states = [];
    if (current.hasDraft) states.push('a saved draft is loaded');
    if (unsaved.has(current.name)) states.push('unsaved changes');
    draftState.textContent = states.length ? `· ${states.join(', ')}` : '';
    $('discard-draft').disabled = !current.hasDraft && !unsaved.has(current.name);
  }

  async function loadVersions() {
    if (!current) return;
    const name = current.name;
    const res = await Console.api('GET', path(name, '/versions'));
    if (!current || current.name !== name) return;
    if (res.status !== 200) {
      versions.replaceChildren(Console.el('li', { class: 'muted', text: res.status === 404 ? 'No published versions yet.' : `Versions unavailable: ${Console.errorText(res.body)}` }));
      return;
    }
    const items = (res.body && res.body.items) || [];
    items.sort((a, b) => b.version - a.version);
    const live = items.find((v) => v.live);
    if (live) current.liveVersion = live.version;
    showState();
    if (!items.length) {
      versions.replaceChildren(Console.el('li', { class: 'muted', text: 'No published versions yet: the default is live.' }));
      return;
    }
    versions.replaceChildren(...items.map((v) => {
      const parts = [Console.el('strong', { text: `Version ${v.version}` })];
      if (v.live) parts.push(Console.el('span', { class: 'badge', text: 'live' }));
      parts.push(Console.el('span', { class: 'muted', text: ` ${Console.utc(v.created_at)}${v.created_by ? ` by ${v.created_by}` : ''}` }),
        Console.el('button', { type: 'button', class: 'link', text: 'Show source', 'aria-label': `Show the source of version ${v.version}`, onclick: () => showVersion(v.version) }));
      parts.push(Console.el('button', {
        type: 'button', class: 'secondary small', 'data-restore': String(v.version), 'data-write': true, text: 'Restore',
        'aria-label': `Restore version ${v.version}`, disabled: v.live,
        onclick: () => restore(v.version),
      }));
      return Console.el('li', { 'data-version': String(v.version), class: v.live ? 'live' : 'past' }, ...parts);
    }));
  }

  /** Loads an old version's source into the editor (as unsaved changes) to compare or reuse. */
  async function showVersion(n) {
    const res = await Console.api('GET', path(current.name, `/versions/${n}`));
    if (res.status !== 200) { fail(res, `Version ${n}`); return; }
    source.value = res.body.source;
    renderGutter();
    markDirty();
    schedulePreview();
    Console.notify(`Version ${n} loaded into the editor; save or publish it to use it.`, 'ok');
  }

  async function restore(n) {
    const res = await Console.api('POST', path(current.name, `/versions/${n}/restore`));
    if (res.status !== 200 && res.status !== 201 && res.status !== 204) { fail(res, `Restoring version ${n}`); return; }
    const as = res.body && res.body.version != null ? ` as version ${res.body.version}` : '';
    Console.notify(`Version ${n} of ${current.name} is live again (restored${as}).`, 'ok');
    unsaved.delete(current.name);
    await load(current.name);
  }

  // ---- loading -------------------------------------------------------------------------------

  async function load(name) {
    clearTimeout(debounce);
    const res = await Console.api('GET', path(name));
    if (res.status !== 200) { fail(res, `Loading ${name}`); return; }
    const t = res.body;
    const draftFlag = t.draft;
    let text = t.source;
    let hasDraft = false;
    if (draftFlag !== false) {
      const draft = await Console.api('GET', path(name, '/draft'));
      if (draft.status === 200 && draft.body && typeof draft.body.source === 'string') {
        text = draft.body.source;
        hasDraft = true;
      } else if (draft.status !== 404) {
        fail(draft, `Loading the draft of ${name}`);
      }
    }
    current = { name, saved: text, hasDraft, overridden: !!t.overridden, liveVersion: t.live_version != null ? t.live_version : null };
    source.value = unsaved.has(name) ? unsaved.get(name) : text;
    source.scrollTop = 0;
    gutterLines = 0;
    showProblem(null);
    showState();
    const option = Array.from(select.options).find((o) => o.value === name);
    if (option) option.textContent = optionLabel(name, current.overridden, hasDraft);
    const url = new URL(location.href);
    url.searchParams.set('template', name);
    history.replaceState(null, '', url);
    renderPreview();
    loadVersions();
  }

  /** A template's entry in the list: its name and whether it is customised or has a draft. */
  function optionLabel(name, overridden, draft) {
    const marks = [overridden ? 'customised' : '', draft ? 'draft' : ''].filter(Boolean);
    return name + (marks.length ? ` (${marks.join(', ')})` : '');
  }

  async function init() {
    const draft = await Console.api('GET', `/tenants/${encodeURIComponent(ctx.tenant)}/branding/draft`);
    if (draft.status === 200 && draft.body) brandingDraft = draft.body.branding || null;
    const res = await Console.api('GET', base);
    if (res.status !== 200) { fail(res, 'Listing templates'); return; }
    const items = (res.body && res.body.items) || [];
    const pages = Console.el('optgroup', { label: 'Pages' });
    const mails = Console.el('optgroup', { label: 'E-mails' });
    for (const t of items) {
      (t.name.startsWith('email.') ? mails : pages).appendChild(Console.el('option', { value: t.name, text: optionLabel(t.name, t.overridden, t.draft) }));
    }
    select.replaceChildren(...[pages, mails].filter((g) => g.children.length));
    const wanted = new URL(location.href).searchParams.get('template');
    const names = items.map((t) => t.name);
    select.value = names.includes(wanted) ? wanted : (names.includes('login') ? 'login' : names[0]);
    if (select.value) await load(select.value);
  }

  select.addEventListener('change', () => load(select.value));

  // ---- actions -------------------------------------------------------------------------------

  /** Saves the editor's source as the draft; resolves true when stored. */
  async function saveDraft(quiet) {
    const res = await Console.api('PUT', path(current.name, '/draft'), source.value === '' ? { source: '' } : source.value,
      { contentType: 'text/x-handlebars' });
    if (res.status !== 200 && res.status !== 201 && res.status !== 204) {
      const p = problemOf(res);
      if (p) showProblem(p);
      fail(res, 'Saving the draft');
      return false;
    }
    current.saved = source.value;
    current.hasDraft = true;
    unsaved.delete(current.name);
    showState();
    const p = res.body && res.body.problem;
    if (p) showProblem(p);
    if (!quiet) Console.notify(p ? 'Draft saved; it does not compile yet, so it cannot be published.' : 'Draft saved.', p ? 'error' : 'ok');
    return true;
  }

  $('save-draft').addEventListener('click', () => { if (current) saveDraft(false); });

  $('publish').addEventListener('click', async () => {
    if (!current) return;
    if (!(await saveDraft(true))) return;
    const res = await Console.api('POST', path(current.name, '/publish'));
    const p = problemOf(res);
    if (p) { showProblem(p); Console.notify(`Not published: the template does not compile (${Console.errorText(res.body)}).`, 'error'); return; }
    if (res.status !== 200 && res.status !== 201) { fail(res, 'Publishing'); return; }
    const version = res.body && res.body.version;
    Console.notify(`Published ${current.name}${version != null ? ` as version ${version}` : ''}; users see it now.`, 'ok');
    await load(current.name);
  });

  $('discard-draft').addEventListener('click', async () => {
    if (!current) return;
    if (current.hasDraft) {
      const res = await Console.api('DELETE', path(current.name, '/draft'));
      if (res.status !== 204 && res.status !== 200 && res.status !== 404) { fail(res, 'Discarding the draft'); return; }
    }
    unsaved.delete(current.name);
    Console.notify('Draft discarded; the editor shows the live version.', 'ok');
    await load(current.name);
  });

  $('reset-template').addEventListener('click', async () => {
    if (!current) return;
    const ok = await Console.confirmAction(`Reset ${current.name} to Tessera's default? Users see the default page at once.`, 'Reset to default');
    if (!ok) return;
    const res = await Console.api('DELETE', path(current.name));
    if (res.status !== 204 && res.status !== 200) { fail(res, 'Resetting'); return; }
    unsaved.delete(current.name);
    Console.notify(`${current.name} is back to the default.`, 'ok');
    await load(current.name);
  });

  init();
});
