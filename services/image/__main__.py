from libs.runner import main
from services.image.settings import ImageSettings

if __name__ == "__main__":
    main(ImageSettings, "services.image.app:build")
