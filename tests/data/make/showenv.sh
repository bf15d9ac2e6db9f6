#!/bin/sh
# showenv.sh — what a job of a make run sees of cdx's own variables
echo "pipeline=$CDX_PIPELINE stage=$CDX_STAGE job=$CDX_JOB attempt=$CDX_ATTEMPT run=$CDX_RUN_ID"
if [ -n "${CDX_JOB_SPEC+set}" ]; then echo "spec=set"; else echo "spec=unset"; fi
# the spec stores make holds for its recipes stay with cdx job
if ls -l /proc/$$/fd 2>/dev/null | grep -q cdx-specs-; then echo "specfd=held"; else echo "specfd=none"; fi
