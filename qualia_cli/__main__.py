from qualia_cli.cli.app import main

main()
