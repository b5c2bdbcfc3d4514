"""``python -m jetbridge.agent``: the data-plane agent process."""

from jetbridge.agent.entrypoints.__main__ import main

main()
