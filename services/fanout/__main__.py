from libs.runner import main

if __name__ == "__main__":
    main("fanout", "services.fanout.app:build")
