#!/usr/bin/env bash
# Build (or reuse from ~/.cache/jetbridge/kube) kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd and kwok from the pinned modules in gomod/. See kubebuild.py.
#   deploy/local/kube/build.sh [build|rebuild|regenerate|paths|prune]
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec nice -n 19 env GOMAXPROCS="${GOMAXPROCS:-2}" .venv/bin/python deploy/local/kube/kubebuild.py "${@:-build}"
