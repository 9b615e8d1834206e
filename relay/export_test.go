package relay

// PartyCodeNode is partyCodeNode for the tests of package relay_test.
var PartyCodeNode = partyCodeNode
