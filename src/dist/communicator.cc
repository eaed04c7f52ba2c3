#include "dist/communicator.h"

#include <cstdlib>

namespace cpu_llm {

#ifdef CPU_LLM_HAVE_MPI
Status MakeMpiCommunicator(std::unique_ptr<Communicator>* comm);  // mpi_communicator.cc
bool BuiltWithMpi() { return true; }
#else
bool BuiltWithMpi() { return false; }
#endif

bool LaunchedByMpi() {
  // Open MPI's mpirun, PMIx (Open MPI 4+, Slurm) and PMI-1/2 (MPICH's hydra, Slurm).
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

Status MakeCommunicator(std::unique_ptr<Communicator>* comm) {
  if (!LaunchedByMpi()) {
    *comm = std::make_unique<LocalCommunicator>();
    return Status();
  }
#ifdef CPU_LLM_HAVE_MPI
  return MakeMpiCommunicator(comm);
#else
  return UsageError("started by an MPI launcher, but this cpu_llm was built without MPI (install libopenmpi-dev and "
                    "rebuild)");
#endif
}

}  // namespace cpu_llm
