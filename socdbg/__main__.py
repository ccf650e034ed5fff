from socdbg.cli import main

main()
