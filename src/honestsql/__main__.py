from honestsql.cli import main

main()
