import Testing
import Wire

@Suite struct XMLElementTests {
    private let element = XMLElement(
        name: "Room",
        attributes: [XMLAttribute(name: "Hidden", value: "true"), XMLAttribute(name: "hidden", value: "second")],
        children: [
            XMLElement(name: "Name", text: "first"),
            XMLElement(name: "Other"),
            XMLElement(name: "NAME", text: "second"),
            XMLElement(name: "Nämé", text: "accented"),
        ]
    )

    @Test func childMatchesNamesIgnoringASCIICaseAndReturnsTheFirst() {
        #expect(element.child("name")?.text == "first")
        #expect(element.child("NAME")?.text == "first")
        #expect(element.child("Other")?.name == "Other")
        #expect(element.child("Missing") == nil)
        #expect(element.child("Nam") == nil)
    }

    @Test func childrenNamedReturnsEveryMatchInOrder() {
        #expect(element.children(named: "name").map(\.text) == ["first", "second"])
        #expect(element.children(named: "missing").isEmpty)
    }

    @Test func onlyASCIILettersAreFolded() {
        #expect(element.child("Nämé")?.text == "accented")
        #expect(element.child("NÄMÉ") == nil)
    }

    @Test func attributeMatchesNamesIgnoringASCIICaseAndReturnsTheFirst() {
        #expect(element.attribute("hidden") == "true")
        #expect(element.attribute("HIDDEN") == "true")
        #expect(element.attribute("Updatable") == nil)
    }
}
