#include "data/gpt2_bpe.h"

#include <algorithm>

namespace cpu_llm {

namespace {

using Pair = Gpt2BpeScratch::Pair;

// Min-heap on (rank, position): among equal ranks, positions come out left to right.
bool Later(const Pair& a, const Pair& b) { return a.rank > b.rank || (a.rank == b.rank && a.node > b.node); }

}  // namespace

void Gpt2BpeWord(const Gpt2Vocab& vocab, std::string_view word, Gpt2BpeScratch* scratch, std::vector<int32_t>* ids) {
  const int n = static_cast<int>(word.size());
  if (n == 1) {
    ids->push_back(vocab.byte_token[static_cast<unsigned char>(word[0])]);
    return;
  }
  // A doubly linked list over the symbols; a merge keeps the left node, so
  // node order is word order and "rightmost" is "largest node".
  std::vector<int32_t>& sym = scratch->sym;
  std::vector<int32_t>& next = scratch->next;
  std::vector<int32_t>& prev = scratch->prev;
  std::vector<Pair>& heap = scratch->heap;
  std::vector<Pair>& round = scratch->round;
  sym.resize(n);
  next.resize(n);
  prev.resize(n);
  for (int i = 0; i < n; i++) {
    sym[i] = vocab.byte_token[static_cast<unsigned char>(word[i])];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  heap.clear();
  auto make_pair = [&](int node, Pair* p) {
    const int r = next[node];
    if (r < 0) return false;
    const Gpt2Merge* m = vocab.merges.Find(sym[node], sym[r]);
    if (m == nullptr) return false;
    *p = Pair{m->rank, node, sym[node], sym[r], m->merged};
    return true;
  };
  auto push = [&](int node) {
    Pair p;
    if (!make_pair(node, &p)) return;
    heap.push_back(p);
    std::push_heap(heap.begin(), heap.end(), Later);
  };
  // Heap entries are never removed early; one is stale once either symbol changed.
  auto current = [&](const Pair& p) {
    const int r = next[p.node];
    return sym[p.node] == p.left && r >= 0 && sym[r] == p.right;
  };
  for (int i = 0; i + 1 < n; i++) {
    Pair p;
    if (make_pair(i, &p)) heap.push_back(p);
  }
  std::make_heap(heap.begin(), heap.end(), Later);

  while (!heap.empty()) {
    const int32_t rank = heap.front().rank;
    round.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), Later);
      const Pair p = heap.back();
      heap.pop_back();
      if (current(p) && (round.empty() || round.back().node != p.node)) round.push_back(p);
    }
    if (round.empty()) continue;
    const Pair chosen = round.back();
    for (const Pair& p : round) {
      if (!current(p)) continue;  // its left symbol was just eaten by an overlapping merge
      if (p.left != chosen.left || p.right != chosen.right) {
        heap.push_back(p);  // same rank through a comma collision: a later round
        std::push_heap(heap.begin(), heap.end(), Later);
        continue;
      }
      const int node = p.node, gone = next[node];
      sym[node] = chosen.merged;
      sym[gone] = -1;
      next[node] = next[gone];
      if (next[gone] >= 0) prev[next[gone]] = node;
      if (prev[node] >= 0) push(prev[node]);
      push(node);
    }
  }
  for (int i = 0; i >= 0; i = next[i]) ids->push_back(sym[i]);
}

}  // namespace cpu_llm
