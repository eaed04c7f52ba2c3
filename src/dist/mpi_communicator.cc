// The MPI world (built when CMake finds MPI; see communicator.h). Errors come
// back as Status (MPI_ERRORS_RETURN), so the caller can say which collective
// failed and end the job with Abort rather than leave other ranks waiting.
// The C API only: without these, mpi.h from C++ also pulls in the deprecated
// C++ bindings, which live in another library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <vector>

#include "dist/communicator.h"

namespace cpu_llm {
namespace {

// MPI counts are int; long buffers go in pieces of at most this many elements
// (256 MB of floats), well inside every implementation's message limits.
constexpr int64_t kMaxCount = int64_t{1} << 26;

Status Check(int code, const char* what) {
  if (code == MPI_SUCCESS) return Status();
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return RuntimeError("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len)));
}

class MpiCommunicator final : public Communicator {
 public:
  Status Init() {
    int provided = 0;
    // Only the thread that called MPI_Init makes MPI calls (OpenMP workers
    // and the loader thread never do).
    CPU_LLM_RETURN_IF_ERROR(Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init"));
    initialized_ = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    MPI_Comm node;
    CPU_LLM_RETURN_IF_ERROR(
        Check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "split"));
    MPI_Comm_size(node, &local_ranks_);
    MPI_Comm_free(&node);
    requests_.reserve(64);
    return Status();
  }
  ~MpiCommunicator() override {
    if (initialized_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_ranks() const override { return local_ranks_; }

  Status Broadcast(void* data, int64_t bytes, int root) override {
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes; done += kMaxCount) {
      const int n = static_cast<int>(std::min(kMaxCount, bytes - done));
      CPU_LLM_RETURN_IF_ERROR(Check(MPI_Bcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast"));
    }
    return Status();
  }
  Status AllreduceSum(float* data, int64_t n) override { return Reduce(data, n, MPI_FLOAT); }
  Status AllreduceSum(double* data, int64_t n) override { return Reduce(data, n, MPI_DOUBLE); }

  Status StartAllreduceSum(float* data, int64_t n) override {
    for (int64_t done = 0; done < n; done += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, n - done));
      MPI_Request r;
      CPU_LLM_RETURN_IF_ERROR(
          Check(MPI_Iallreduce(MPI_IN_PLACE, data + done, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r), "iallreduce"));
      requests_.push_back(r);
    }
    return Status();
  }
  void Progress() override {
    if (requests_.empty()) return;
    int done = 0;
    MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
  }
  Status WaitAll() override {
    const int code = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    requests_.clear();
    return Check(code, "gradient all-reduce");
  }
  void Abort(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

 private:
  Status Reduce(void* data, int64_t n, MPI_Datatype type) {
    const int size = type == MPI_DOUBLE ? 8 : 4;
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < n; done += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, n - done));
      CPU_LLM_RETURN_IF_ERROR(
          Check(MPI_Allreduce(MPI_IN_PLACE, p + done * size, count, type, MPI_SUM, MPI_COMM_WORLD), "all-reduce"));
    }
    return Status();
  }

  bool initialized_ = false;
  int rank_ = 0, world_ = 1, local_ranks_ = 1;
  std::vector<MPI_Request> requests_;
};

}  // namespace

Status MakeMpiCommunicator(std::unique_ptr<Communicator>* comm) {
  auto mpi = std::make_unique<MpiCommunicator>();
  CPU_LLM_RETURN_IF_ERROR(mpi->Init());
  *comm = std::move(mpi);
  return Status();
}

}  // namespace cpu_llm
