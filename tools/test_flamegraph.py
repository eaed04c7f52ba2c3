#!/usr/bin/env python3
"""Tests of tools/flamegraph.py on a small hand-written `perf script` text; needs no perf.

Run: python3 tools/test_flamegraph.py (ctest runs it as flamegraph_tool).
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, 'flamegraph.py')
sys.path.insert(0, HERE)
import flamegraph  # noqa: E402

# Eight samples in perf script's default layout (leaf first, blank line after each): the main
# thread in the forward and backward pass and in a page fault, an OpenMP worker under two
# unnamed libgomp frames, a later validation pass, and a second process with a spaced name.
PERF_SCRIPT = """\
cpu_llm   100 [000]    10.000100:    1001001 cpu-clock:ppp: 
\t           7603d cpu_llm::(anonymous namespace)::OuterAccum<6>(float*, long, float const*)+0x79d (/b/cpu_llm)
\t           140b5 GOMP_parallel+0x45 (/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0)
\t           76dd5 cpu_llm::matmul_backward(cpu_llm::Context const&, float*)+0xa5 (/b/cpu_llm)
\t           6c85d cpu_llm::TrainStep+0x9d (/b/cpu_llm)
\t           10b0a main+0x31a (/b/cpu_llm)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   100 [000]    10.001100:    1001001 cpu-clock:ppp: 
\t           76019 cpu_llm::matmul_forward+0x779 (/b/cpu_llm)
\t           703d5 cpu_llm::GPT2::Forward+0x6a5 (/b/cpu_llm)
\t           6c85d cpu_llm::TrainStep+0x9d (/b/cpu_llm)
\t           10b0a main+0x31a (/b/cpu_llm)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   101 [001]    10.001200:    1001001 cpu-clock:ppp: 
\t           76025 cpu_llm::matmul_forward(cpu_llm::Context const&, float*, int) [clone ._omp_fn.0]+0x785 (/b/cpu_llm)
\t           1cd8d [unknown] (/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0)
\t           1c000 [unknown] (/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0)
\t           891f4 start_thread+0x304 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   100 [000]    10.002100:    1001001 cpu-clock:ppp: 
\tffffffff8168bcb5 clear_page_erms+0x5 ([kernel.kallsyms])
\tffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])
\t          152b08 __memset_avx2_unaligned_erms+0x88 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           6c85d cpu_llm::TrainStep+0x9d (/b/cpu_llm)
\t           10b0a main+0x31a (/b/cpu_llm)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   100 [000]    10.003100:    1001001 cpu-clock:ppp: 
\t           76020 cpu_llm::matmul_forward+0x780 (/b/cpu_llm)
\t           703d5 cpu_llm::GPT2::Forward+0x6a5 (/b/cpu_llm)
\t           6c85d cpu_llm::TrainStep+0x9d (/b/cpu_llm)
\t           10b0a main+0x31a (/b/cpu_llm)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   100 [000]    12.000000:    1001001 cpu-clock:ppp: 
\t           76019 cpu_llm::matmul_forward+0x779 (/b/cpu_llm)
\t           5e001 cpu_llm::RunTraining(cpu_llm::TrainOptions const&)::{lambda(int)#2}::operator()(int) const+0x51 (/b/cpu_llm)
\t           10b0a main+0x31a (/b/cpu_llm)
\t           27249 __libc_start_call_main+0x79 (/usr/lib/x86_64-linux-gnu/libc.so.6)

cpu_llm   101 [001]    12.000500:    1001001 cpu-clock:ppp: 
\t           76019 cpu_llm::matmul_forward+0x779 (/b/cpu_llm)
\t           1cd8d [unknown] (/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0)
\t           891f4 start_thread+0x304 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

my prog 200/201    13.000000:     250000 cpu-clock:ppp: 
\t            1234 std::vector<int, std::allocator<int> >::push_back(int const&)+0x1 (/tmp/my prog (deleted))
\t    7fb5d98778a8 [unknown] ([unknown])

"""

STEP = 'cpu_llm;__libc_start_call_main;main;cpu_llm::TrainStep;'
WORKER = 'cpu_llm;clone3;start_thread;[libgomp.so.1.0.0];'
FOLDED_STEP = f"""\
{STEP}__memset_avx2_unaligned_erms;asm_exc_page_fault;clear_page_erms 1
{STEP}cpu_llm::GPT2::Forward;cpu_llm::matmul_forward 2
{STEP}cpu_llm::matmul_backward;GOMP_parallel;cpu_llm::(anonymous namespace)::OuterAccum<6> 1
{WORKER}cpu_llm::matmul_forward._omp_fn.0 1
"""
# Folded stacks are sorted, so the validation pass's line comes first and the other process's last.
FOLDED = ('cpu_llm;__libc_start_call_main;main;cpu_llm::RunTraining::{lambda#2}::operator();'
          'cpu_llm::matmul_forward 1\n' + FOLDED_STEP.replace(WORKER, WORKER + 'cpu_llm::matmul_forward 1\n' + WORKER) +
          'my prog;[unknown];std::vector<...>::push_back 1\n')


def run(args, stdin=PERF_SCRIPT):
    return subprocess.run([sys.executable, TOOL] + args, input=stdin, capture_output=True, text=True, check=True)


class FlamegraphTest(unittest.TestCase):
    def test_folded(self):
        self.assertEqual(run([]).stdout, FOLDED)

    def test_from_folded_round_trip(self):
        self.assertEqual(run(['--from-folded', '--folded', '-'], stdin=FOLDED).stdout, FOLDED)

    def test_top_counts(self):
        summary = json.loads(run(['--json', '-', '-n', '4']).stdout)
        self.assertEqual(summary['total_samples'], 8)
        self.assertEqual([(r['function'], r['samples'], r['percent']) for r in summary['self']], [
            ('cpu_llm::matmul_forward', 4, 50.0),
            ('clear_page_erms', 1, 12.5),
            ('cpu_llm::(anonymous namespace)::OuterAccum<6>', 1, 12.5),
            ('cpu_llm::matmul_forward._omp_fn.0', 1, 12.5)])
        # Inclusive counts a function once per stack; ties sort by name.
        self.assertEqual([(r['function'], r['samples']) for r in summary['inclusive']], [
            ('cpu_llm', 7), ('__libc_start_call_main', 5), ('main', 5), ('cpu_llm::TrainStep', 4)])
        text = run(['--top', '-', '-n', '2']).stdout
        self.assertIn('total samples: 8', text)
        self.assertIn('       4  50.00%  cpu_llm::matmul_forward', text)
        self.assertIn('       7  87.50%  cpu_llm', text)

    def test_period_weights(self):
        summary = json.loads(run(['--json', '-', '-n', '1', '--period']).stdout)
        self.assertEqual(summary['total_samples'], 7 * 1001001 + 250000)

    def test_options(self):
        self.assertNotIn('clear_page_erms', run(['--user-only']).stdout)
        no_comm = run(['--no-comm']).stdout
        self.assertIn('\n__libc_start_call_main;main;cpu_llm::TrainStep;', no_comm)
        self.assertTrue(no_comm.startswith('[unknown];std::vector<...>::push_back 1\n'))  # '[' sorts before '_'
        self.assertIn('cpu_llm/101;clone3;', run(['--pid']).stdout)
        self.assertIn('std::vector<int, std::allocator<int> >::push_back(int const&) 1', run(['--raw-names']).stdout)

    def test_during_keeps_all_threads_while_pattern_runs(self):
        out = run(['--during', 'TrainStep'])
        self.assertEqual(out.stdout, FOLDED_STEP)
        self.assertIn('1 window(s)', out.stderr)

    def test_svg_is_well_formed(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'f.svg')
            run(['--svg', path, '--title', 'a <test> & more'])
            root = ET.parse(path).getroot()
        ns = '{http://www.w3.org/2000/svg}'
        self.assertEqual(root.tag, ns + 'svg')
        titles = [t.text for t in root.iter(ns + 'title')]
        self.assertIn('all (8 samples, 100.00%)', titles)
        self.assertIn('cpu_llm::matmul_forward (1 samples, 12.50%)', titles)
        self.assertIn('std::vector<...>::push_back (1 samples, 12.50%)', titles)
        rects = {g.find(ns + 'title').text.split(' (')[0]: float(g.find(ns + 'rect').get('width'))
                 for g in root.iter(ns + 'g') if g.find(ns + 'title').text.startswith(('all', 'my prog'))}
        self.assertAlmostEqual(rects['my prog'], rects['all'] / 8, places=2)

    def test_shorten(self):
        cases = {
            'std::_Function_handler<cpu_llm::Status (), cpu_llm::F(CLI::App&)::{lambda()#1}>::_M_invoke':
                'std::_Function_handler<...>::_M_invoke',
            'std::vector<int, std::allocator<int> >::operator[](unsigned long) const': 'std::vector<...>::operator[]',
            'foo::operator<<(std::ostream&, int)': 'foo::operator<<',
            'Foo::operator bool() const': 'Foo::operator bool',
            'Kernel<4>::run(float*)': 'Kernel<4>::run',
            'bar(int) [clone .constprop.0]': 'bar',
        }
        for raw, short in cases.items():
            self.assertEqual(flamegraph.shorten(raw), short)


if __name__ == '__main__':
    unittest.main()
