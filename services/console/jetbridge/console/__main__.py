from jetbridge.console.entrypoints.app import main

main()
