from tritonkit.cli import main

main()
