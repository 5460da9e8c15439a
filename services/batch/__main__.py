from libs.runner import main

if __name__ == "__main__":
    main("batch", "services.batch.app:build")
