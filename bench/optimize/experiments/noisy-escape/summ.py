import json, sys, glob, os, statistics
def med(v, n):
    v = sorted(x if x is not None else float('inf') for x in v)
    m = (v[(n-1)//2] + v[n//2]) / 2 if n else float('nan')
    return '>' if m == float('inf') else ('%g' % m)
def camp(d, name, thr):
    res = []
    for f in sorted(glob.glob(f'{d}/{name}.*.json')):
        r = json.load(open(f)); best = -1e9; hit = None
        for i, s in enumerate(r['scores']):
            if s is not None and s > best: best = s
            if hit is None and best >= thr: hit = i + 1
        res.append((r['seed'], hit, best))
    return res
def pr(label, rows):
    pass
labels = sys.argv[1:]
out = {}
for L in labels:
    d = f'/work/escape-runs/{L}'
    for name, thr in [('cspbx3', 0.99*0.8626), ('cdse', 0.95*1.0)]:
        r = camp(d, name, thr)
        if r:
            out.setdefault(name, {})[L] = (sum(h is not None for _, h, _ in r), len(r), med([h for _, h, _ in r], len(r)), ' '.join('%d:%s' % (s, h if h else '-') for s, h, _ in r), statistics.median(b for *_, b in r))
    for p in ['hartmann6_noisy','branin','hartmann6','photo_pce10','crossed_barrel','hplc','suzuki_i']:
        f = f'{d}/{p}.jsonl'
        if not os.path.exists(f): continue
        lines = [json.loads(l) for l in open(f) if l.strip()]
        if not lines: continue
        n = len(lines)
        cells = []
        for t in range(2):
            h = [l['reached'][t] for l in lines]
            cells.append('%d/%d, %s' % (sum(x is not None for x in h), n, med(h, n)))
        fr = statistics.median(l['regret'][-1] for l in lines)
        out.setdefault(p, {})[L] = (cells[0], cells[1], 'final regret med %.4g' % fr, ' '.join('%d:%s' % (l['seed'], l['reached'][0] or '-') for l in lines))
for p, byL in out.items():
    print('==', p)
    for L, v in byL.items():
        if p in ('cspbx3','cdse'):
            print('  %-14s %d/%d, %s  (final best median %.4f)' % (L, v[0], v[1], v[2], v[4]))
            if '-v' in os.environ.get('V',''): print('     ', v[3])
        else:
            print('  %-14s thr1 %s | thr2 %s | %s' % (L, v[0], v[1], v[2]))
            if '-v' in os.environ.get('V',''): print('     ', v[3])
