"""``python -m jetbridge.pilot``: the data-plane Pilot process."""

from jetbridge.pilot.entrypoints.__main__ import main

main()
