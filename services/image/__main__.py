from libs.runner import main

if __name__ == "__main__":
    main("image", "services.image.app:build")
