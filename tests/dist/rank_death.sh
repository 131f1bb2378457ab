#!/bin/sh
# Runs `dist_collectives --rank-death` on 3 processes: rank 2 exits without
# MPI_Finalize, and ranks 0 and 1 must each report UNAVAILABLE naming it.
# The launcher itself then fails the job (a process "exited improperly"),
# so its exit status says nothing here: the survivors' lines do.
# usage: rank_death.sh MPIEXEC NUMPROC_FLAG PROGRAM
out=$("$1" "$2" 3 "$3" --rank-death 2>&1)
echo "$out"
survivors=$(echo "$out" | grep -c "has exited; the process group is unusable")
if echo "$out" | grep -q "check failed" || [ "$survivors" -ne 2 ]; then
  echo "rank_death: expected ranks 0 and 1 to report rank 2's death, $survivors did" >&2
  exit 1
fi
exit 0
