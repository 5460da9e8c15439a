from libs.runner import main
from services.render.settings import RenderSettings

if __name__ == "__main__":
    main(RenderSettings, "services.render.app:build")
