from jetbridge.navigator.entrypoints.app import main

main()
