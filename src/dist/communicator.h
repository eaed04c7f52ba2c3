// Data-parallel training's view of the processes it runs in (issue 9): a rank
// in a world of ranks, and the few collectives the trainer needs. One process
// on its own is a world of 1 whose collectives do nothing (LocalCommunicator),
// so the single-process path never touches MPI; `mpirun -np P cpu_llm train`
// gets an MPI world (dist/mpi_communicator.cc, built when MPI is installed).
//
// Collectives are blocking unless named Start...: a started all-reduce runs
// while the caller computes, and Progress() lets the MPI library move it on
// (Open MPI has no progress thread by default, so an overlapped reduction
// only advances inside MPI calls).
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"

namespace cpu_llm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world() const = 0;
  // Ranks on this rank's machine: they share its cores.
  virtual int local_ranks() const = 0;
  bool is_root() const { return rank() == 0; }

  // Every rank gets root's `bytes` bytes at data.
  virtual Status Broadcast(void* data, int64_t bytes, int root) = 0;
  // data[i] = the sum of data[i] over the ranks, on every rank.
  virtual Status AllreduceSum(float* data, int64_t n) = 0;
  virtual Status AllreduceSum(double* data, int64_t n) = 0;
  // Starts an in-place all-reduce sum of data[0..n): data must stay untouched
  // until WaitAll returns.
  virtual Status StartAllreduceSum(float* data, int64_t n) = 0;
  // Lets started reductions advance; cheap, never blocks.
  virtual void Progress() = 0;
  // Waits for every started reduction.
  virtual Status WaitAll() = 0;
  // Ends every rank of the job with `code` (a rank that cannot go on must not
  // leave the others waiting in a collective). A world of one has nothing to
  // end: main returns the code itself.
  virtual void Abort(int code) = 0;
};

// A world of one: collectives leave the data as it is.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  int local_ranks() const override { return 1; }
  Status Broadcast(void*, int64_t, int) override { return Status(); }
  Status AllreduceSum(float*, int64_t) override { return Status(); }
  Status AllreduceSum(double*, int64_t) override { return Status(); }
  Status StartAllreduceSum(float*, int64_t) override { return Status(); }
  void Progress() override {}
  Status WaitAll() override { return Status(); }
  void Abort(int) override {}
};

// True when an MPI launcher (mpirun / mpiexec, or a resource manager through
// PMI/PMIx) started this process.
bool LaunchedByMpi();

// The world this process belongs to: MPI's when launched by an MPI launcher
// (initialising MPI, finalised when *comm is destroyed), else a world of one.
// Fails when launched by one but built without MPI.
Status MakeCommunicator(std::unique_ptr<Communicator>* comm);

// True when this build has the MPI communicator.
bool BuiltWithMpi();

}  // namespace cpu_llm
