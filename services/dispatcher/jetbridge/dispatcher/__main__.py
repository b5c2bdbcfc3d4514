"""``python -m jetbridge.dispatcher``: the Dispatcher process."""

from jetbridge.dispatcher.entrypoints.__main__ import main

main()
