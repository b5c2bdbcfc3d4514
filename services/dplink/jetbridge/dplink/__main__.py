"""``python -m jetbridge.dplink``: the DP-Link process."""

from jetbridge.dplink.entrypoints.__main__ import main

main()
