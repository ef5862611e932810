#!/bin/sh
# fsfreeze hook for the e2e guest (-F): records each call, so the test can check that the agent ran it
# before the freeze and after the thaw.
dir=/run/qga-e2e
mkdir -p "$dir"
echo "$1" >>"$dir/fsfreeze-hook.log"
