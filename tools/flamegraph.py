#!/usr/bin/env python3
"""Turn `perf script` output into folded stacks, an SVG flame graph and a hotspot summary.

Input is the text `perf script` prints for a `perf record -g` (or --call-graph dwarf) profile:
one header line per sample, then its call chain one frame per line, leaf first, then a blank
line. Each stack becomes one folded line, root first: `comm;main;f;g 42`. Frame names keep the
symbol and lose the address and +0x offset; C++ names are shortened (argument lists dropped,
long template argument lists collapsed to <...>, short ones like Kernel<4> kept) unless
--raw-names. A frame perf could not name becomes [dso] (e.g. [libgomp.so.1.0.0]); repeats of
the same such frame are merged. Self samples: the function is the leaf. Inclusive: the function
is anywhere on the stack (counted once per sample, even when recursive).

Examples:
  perf script -i perf.data | tools/flamegraph.py --folded out.folded --svg out.svg --top -
  perf script -i perf.data | tools/flamegraph.py --during cpu_llm::TrainStep --svg step.svg
  tools/flamegraph.py --from-folded out.folded --top out.top.txt --json out.top.json -n 30
With no output flag the folded stacks go to stdout.
"""
import argparse
import bisect
import collections
import contextlib
import functools
import json
import re
import sys
import zlib
from xml.sax.saxutils import escape

HEADER_RE = re.compile(r'^(\S.*?)\s+(\d+)(?:/(\d+))?\s+(?:\[\d+\]\s+)?(?:(\d+\.\d+):\s+)?(?:(\d+)\s+)?(\S+?):?\s*$')
FRAME_RE = re.compile(r'^\s+([0-9a-fA-F]+)\s+(.*)$')
OFFSET_RE = re.compile(r'\+0x[0-9a-fA-F]+$')
OPERATOR_RE = re.compile(r'operator(?:\(\)|\[\]|<=>|<<=|>>=|->\*|->|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|'
                         r'[-+*/%^&|~!=<>,]=?| new(?:\[\])?| delete(?:\[\])?|"" \w+)?')

SHORT_TEMPLATE_RE = re.compile(r'<[^<>()]{1,24}>')  # kept as is, e.g. Kernel<4>; longer ones become <...>


@functools.lru_cache(maxsize=None)
def shorten(name):
    """Drop C++ argument lists and collapse template arguments; keep lambdas and OpenMP clones."""
    omp = re.search(r'\[clone (\._omp_fn\.\d+)\]', name)
    name = re.sub(r'\s*\[clone [^\]]*\]', '', name).replace('(anonymous namespace)', '\0')
    out, depth_t, depth_p, i = [], 0, 0, 0
    while i < len(name):
        m = OPERATOR_RE.match(name, i) if name.startswith('operator', i) else None
        if m and (i == 0 or not (name[i - 1].isalnum() or name[i - 1] == '_')):
            if depth_t == depth_p == 0:
                out.append(m.group(0))
            i = m.end()
            continue
        c = name[i]
        if c == '<' and depth_p == 0:
            if depth_t == 0:
                short = SHORT_TEMPLATE_RE.match(name, i)
                out.append(short.group(0) if short else '<...>')
            depth_t += 1
        elif c == '>' and depth_p == 0 and depth_t > 0:
            depth_t -= 1
        elif c == '(':
            depth_p += 1
        elif c == ')' and depth_p > 0:
            depth_p -= 1
        elif depth_t == depth_p == 0:
            out.append(c)
        i += 1
    short = re.sub(r'\s+', ' ', ''.join(out)).strip().replace('\0', '(anonymous namespace)')
    short = re.sub(r' const$', '', short)
    return (short + omp.group(1) if omp else short) or name


def frame_name(rest, raw):
    """`sym+0x1f (dso)` -> display name."""
    rest = rest.strip()
    if rest.endswith(' (deleted))'):
        rest = rest[:-len(' (deleted))')] + ')'
    sym, dso = rest, ''
    if rest.endswith(')'):
        cut = rest.rfind(' (')
        if cut >= 0:
            sym, dso = rest[:cut], rest[cut + 2:-1]
    sym = OFFSET_RE.sub('', sym.strip())
    if not sym or sym == '[unknown]':
        base = dso.rsplit('/', 1)[-1] if dso else 'unknown'
        if re.fullmatch(r'perf-\d+\.map', base):
            base = 'anon-exec'  # code in anonymous memory; no pid, so reruns fold alike
        return '[%s]' % (base.strip('[]') or 'unknown')
    return sym if raw else shorten(sym)


def perf_samples(lines, opts):
    """perf script lines -> [(time or None, folded stack, weight)]."""
    samples, frames, head = [], [], None

    def flush():
        if head:
            chain = list(reversed(frames))
            chain = [f for k, f in enumerate(chain) if not (k and f == chain[k - 1] and f.startswith('['))]
            samples.append((head[1], ';'.join(([head[0]] if opts.comm else []) + chain) or head[0], head[2]))

    for line in lines:
        line = line.rstrip('\n')
        if not line.strip() or not line[0].isspace():
            flush()
            frames, head = [], None
            if line.strip() and not line.startswith('#'):
                m = HEADER_RE.match(line)
                comm = (m.group(1) if m else line.split()[0]).replace(';', ':')
                if m and opts.pid:
                    comm += '/' + (m.group(3) or m.group(2))
                t = float(m.group(4)) if (m and m.group(4)) else None
                head = (comm, t, int(m.group(5)) if (m and opts.period and m.group(5)) else 1)
            continue
        m = FRAME_RE.match(line)
        if not m or not head:
            continue
        if opts.user_only and ('[kernel.kallsyms]' in line or m.group(1).lower().startswith('ffffffff')):
            continue
        frames.append(frame_name(m.group(2), opts.raw_names).replace(';', ':'))
    flush()
    return samples


def during(samples, pattern, gap):
    """Samples of every thread taken while some stack matching pattern was being sampled:
    matching samples closer than gap seconds form one window."""
    windows = []
    for t in sorted(t for t, stack, _ in samples if t is not None and re.search(pattern, stack)):
        if windows and t - windows[-1][1] <= gap:
            windows[-1][1] = t
        else:
            windows.append([t, t])
    starts = [a for a, _ in windows]
    k = [bisect.bisect_right(starts, t) - 1 if t is not None else -1 for t, _, _ in samples]
    return [s for s, i in zip(samples, k) if i >= 0 and s[0] <= windows[i][1]], windows


def read_folded(lines):
    stacks = collections.Counter()
    for line in filter(None, (raw.strip() for raw in lines)):
        stack, _, count = line.rpartition(' ')
        if not stack or not count.isdigit():
            raise ValueError('not a folded line: %r' % line)
        stacks[stack] += int(count)
    return stacks


def write_folded(stacks, out):
    out.writelines('%s %d\n' % (stack, stacks[stack]) for stack in sorted(stacks))


def summarize(stacks, n):
    """Top n functions by self (leaf) and inclusive (anywhere on the stack, once) samples."""
    total = sum(stacks.values())
    self_c, incl_c = collections.Counter(), collections.Counter()
    for stack, count in stacks.items():
        frames = stack.split(';')
        self_c[frames[-1]] += count
        for f in set(frames):
            incl_c[f] += count

    def top(table):
        rows = sorted(table.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [{'function': f, 'samples': c, 'percent': round(100.0 * c / total, 2) if total else 0.0}
                for f, c in rows]
    return {'total_samples': total, 'self': top(self_c), 'inclusive': top(incl_c)}


def summary_text(summary):
    lines = ['total samples: %d' % summary['total_samples']]
    for kind in ('self', 'inclusive'):
        lines += ['', 'top %d by %s samples:' % (len(summary[kind]), kind),
                  '%8s %7s  %s' % ('samples', '%', 'function')]
        lines += ['%8d %6.2f%%  %s' % (r['samples'], r['percent'], r['function']) for r in summary[kind]]
    return '\n'.join(lines) + '\n'


def build_tree(stacks):
    root = {'n': sum(stacks.values()), 'kids': {}}
    for stack, count in stacks.items():
        node = root
        for f in stack.split(';'):
            node = node['kids'].setdefault(f, {'n': 0, 'kids': {}})
            node['n'] += count
    return root


def color(name):
    """Warm colour, fixed per name so regenerated graphs look the same."""
    h = zlib.crc32(name.encode())
    return 'rgb(%d,%d,%d)' % (205 + h % 50, (h >> 8) % 180, (h >> 16) % 55)


def write_svg(stacks, out, title, width=1200, row=16, font=12, min_px=0.1):
    tree = build_tree(stacks)
    total, side, bottom = tree['n'], 10, 24
    height = 36 + (1 + max((s.count(';') + 1 for s in stacks), default=0)) * row + bottom
    scale = (width - 2 * side) / total if total else 0
    rects = []

    def draw(name, node, x, level):
        w = node['n'] * scale
        if w < min_px:
            return
        y = height - bottom - (level + 1) * row
        tip = escape('%s (%d samples, %.2f%%)' % (name, node['n'], 100.0 * node['n'] / total))
        fill = 'rgb(240,240,240)' if level == 0 else color(name)
        fits = int((w - 6) / (font * 0.6))  # characters that fit, at an average glyph width
        label = name if len(name) <= fits else (name[:fits - 2] + '..' if fits >= 3 else '')
        rects.append('<g><title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="2"/>'
                     '%s</g>' % (tip, x, y, w, row - 1, fill,
                                 '<text x="%.2f" y="%.1f">%s</text>' % (x + 3, y + row - 4.5, escape(label))
                                 if label else ''))
        for kid in sorted(node['kids']):
            draw(kid, node['kids'][kid], x, level + 1)
            x += node['kids'][kid]['n'] * scale

    if total:
        draw('all', tree, side, 0)
    out.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')
    out.write('<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" '
              'viewBox="0 0 %d %d">\n' % (width, height, width, height))
    out.write('<style>text{font-family:Verdana,sans-serif;font-size:%dpx;fill:#000;pointer-events:none}'
              ' .t{font-size:%dpx;text-anchor:middle} rect:hover{stroke:#000;stroke-width:0.5}</style>\n'
              % (font, font + 5))
    out.write('<rect width="100%" height="100%" fill="#fdf6e8"/>\n')
    out.write('<text class="t" x="%d" y="24">%s</text>\n' % (width // 2, escape(title)))
    out.write('<text x="%d" y="%d">%d samples; width = share of samples, hover for counts</text>\n'
              % (side, height - 6, total))
    out.write('\n'.join(rects) + '\n</svg>\n')


def open_out(path):
    """A file to write; "-" is stdout, left open for the next writer."""
    return contextlib.nullcontext(sys.stdout) if path == '-' else open(path, 'w', encoding='utf-8')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('input', nargs='?', default='-', help='perf script text (or folded, with --from-folded); '
                    'default stdin')
    ap.add_argument('--from-folded', action='store_true', help='input is already folded stacks')
    ap.add_argument('--folded', metavar='FILE', help='write folded stacks ("-" = stdout)')
    ap.add_argument('--svg', metavar='FILE', help='write an SVG flame graph')
    ap.add_argument('--top', metavar='FILE', help='write the top-N text summary ("-" = stdout)')
    ap.add_argument('--json', metavar='FILE', help='write the top-N summary as JSON ("-" = stdout)')
    ap.add_argument('-n', '--top-n', type=int, default=20, help='functions per top list (default 20)')
    ap.add_argument('--title', default='Flame graph', help='SVG title')
    ap.add_argument('--width', type=int, default=1200, help='SVG width in pixels (default 1200)')
    ap.add_argument('--no-comm', dest='comm', action='store_false', help='no process-name root frame')
    ap.add_argument('--pid', action='store_true', help='root frame is comm/tid: one tower per thread')
    ap.add_argument('--user-only', action='store_true', help='drop kernel frames')
    ap.add_argument('--raw-names', action='store_true', help="keep perf's symbol names unshortened")
    ap.add_argument('--period', action='store_true', help='weight samples by their period, not 1 each')
    ap.add_argument('--during', metavar='REGEX', help='keep only samples (of all threads) taken while stacks '
                    'matching REGEX were being sampled, e.g. cpu_llm::TrainStep; needs timestamps in the input')
    ap.add_argument('--during-gap', type=float, default=0.25, metavar='S',
                    help='matching samples at most S seconds apart form one window (default 0.25)')
    opts = ap.parse_args(argv)
    if opts.during and opts.from_folded:
        ap.error('--during needs perf script input, not folded stacks')

    src = sys.stdin if opts.input == '-' else open(opts.input, encoding='utf-8', errors='replace')
    with src:
        try:
            stacks = read_folded(src) if opts.from_folded else None
        except ValueError as e:
            ap.exit(1, 'flamegraph.py: %s\n' % e)
        samples = perf_samples(src, opts) if stacks is None else []
    if opts.during:
        samples, windows = during(samples, opts.during, opts.during_gap)
        print('flamegraph.py: --during %s: %d window(s), %.1f s, %d samples' % (
            opts.during, len(windows), sum(b - a for a, b in windows), len(samples)), file=sys.stderr)
    if stacks is None:
        stacks = collections.Counter()
        for _, stack, weight in samples:
            stacks[stack] += weight
    if not stacks:
        print('flamegraph.py: no samples in the input', file=sys.stderr)
    if not (opts.folded or opts.svg or opts.top or opts.json):
        opts.folded = '-'
    summary = summarize(stacks, opts.top_n)
    writers = [(opts.folded, lambda f: write_folded(stacks, f)),
               (opts.svg, lambda f: write_svg(stacks, f, opts.title, width=opts.width)),
               (opts.top, lambda f: f.write(summary_text(summary))),
               (opts.json, lambda f: f.write(json.dumps(summary, indent=2) + '\n'))]
    for path, write in writers:
        if path:
            with open_out(path) as f:
                write(f)
    return 0 if stacks else 1


if __name__ == '__main__':
    sys.exit(main())
